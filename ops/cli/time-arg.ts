// Times on the command line: ISO-8601 (`2026-11-02T10:00:00Z`, a date alone
// is midnight UTC) or `@EPOCH_SECONDS`.
import { UsageError } from './usage-error.js'

export function parseTimeArg(flag: string, text: string): number {
  const epoch = /^@(\d{1,12})$/.exec(text)
  if (epoch !== null) return Number(epoch[1]) * 1000
  if (/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    const ms = Date.parse(text)
    if (Number.isFinite(ms)) return ms
  }
  throw new UsageError(`${flag}: expected an ISO-8601 time (2026-11-02T10:00:00Z) or @EPOCH_SECONDS, got ${JSON.stringify(text)}`)
}

export const iso = (ms: number): string => new Date(ms).toISOString()
