// Where a first start begins in a large log: the watcher needs only the
// lines of the last `horizon` (the jails' findtime), so rather than read a
// year of auth.log from its first byte it bisects the file on the times at
// the start of its lines. Conservative by construction: the offset returned
// is 0 or the start of a line whose time is before `since` (minus a margin
// for lines written slightly out of order), so no line within the horizon
// is skipped; the watcher still drops what is older. When the times cannot
// be read (a format the parser does not know), it returns 0.
import type { FileHandle } from 'node:fs/promises'
import type { Millis } from '../../ledger/rules/types.js'

/** Smaller files are read whole: the bisection would save nothing. */
export const SEEK_MIN_SIZE = 1024 * 1024
/** Lines up to this much older than a later one are tolerated (several
 *  writers, buffered syslog). */
export const SEEK_MARGIN: Millis = 10 * 60_000
/** The bisection stops when the window is this small. */
const SPAN = 64 * 1024
/** Lines looked at after a probe point before giving up on its time. */
const PROBE_LINES = 16
const NL = 0x0a

export type TimeOf = (line: string) => Millis | null

/** The offset to read from to see every line at or after `since`. */
export async function seekByTime(fh: FileHandle, size: number, since: Millis, timeOf: TimeOf): Promise<number> {
  if (size < SEEK_MIN_SIZE) return 0
  const target = since - SEEK_MARGIN
  const buf = Buffer.allocUnsafe(SPAN)
  let lo = 0
  let hi = size
  while (hi - lo > SPAN) {
    const mid = lo + Math.floor((hi - lo) / 2)
    const probe = await timedLineAfter(fh, buf, mid, timeOf)
    if (probe === null) return lo // cannot tell: keep what is known to be early enough
    if (probe.at < target) lo = probe.start
    else hi = mid
  }
  return lo
}

/** The first line that starts after `at` and has a readable time. */
async function timedLineAfter(fh: FileHandle, buf: Buffer, at: number, timeOf: TimeOf): Promise<{ start: number; at: Millis } | null> {
  const { bytesRead } = await fh.read(buf, 0, buf.length, at)
  const bytes = buf.subarray(0, bytesRead)
  let start = bytes.indexOf(NL) + 1
  if (start === 0) return null
  for (let n = 0; n < PROBE_LINES; n++) {
    const end = bytes.indexOf(NL, start)
    if (end === -1) return null
    // Timestamps are ASCII: latin1 reads them whatever the rest holds.
    const t = timeOf(bytes.toString('latin1', start, end))
    if (t !== null) return { start: at + start, at: t }
    start = end + 1
  }
  return null
}
