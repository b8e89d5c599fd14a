// Small pieces of text shared by the channels' messages.
import type { Millis } from '../../../ledger/rules/types.js'
import type { Notice } from '../channel.js'

/** `text` without control characters (each becomes `?`), at most `max`
 *  characters: safe in a mail header, an SMS or a log line. */
export function clean(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const safe = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?')
  return safe.length > max ? `${safe.slice(0, max - 1)}…` : safe
}

/** ISO 8601 UTC, or null for 0 (no end: an unban). */
export function isoTime(ms: Millis): string | null {
  return ms > 0 && Number.isFinite(ms) ? new Date(ms).toISOString() : null
}

/** `1 ban`, `3 bans`, `2 bans, 1 unban`. */
export function countDecisions(notices: readonly Notice[]): string {
  const bans = notices.filter((n) => n.decision.type === 'ban').length
  const unbans = notices.length - bans
  const part = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`
  return [bans > 0 ? part(bans, 'ban') : null, unbans > 0 ? part(unbans, 'unban') : null].filter((p) => p !== null).join(', ')
}
