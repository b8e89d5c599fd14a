// ISO-8601 in the local time zone, with its offset: 2005-06-21T16:47:48+02:00
// (filter-test's --json times). A log's failures come many to the minute, so
// the text of the last minute is kept: a Date in the local zone costs a zone
// lookup per field.

const pad = (n: number, w = 2): string => String(Math.abs(n)).padStart(w, '0')

/** The last minute formatted: local time runs in step with UTC through
 *  [start, start + 60 s) from second 0 of a local minute; `head` is its text
 *  up to the seconds, `tail` the offset. */
let minute = { start: NaN, head: '', tail: '' }

export type IsoMinute = Readonly<{ start: number; head: string; tail: string }>

/** The minute localIso(ms) keeps for `ms`, or null when it keeps none for
 *  it: then localIso(ms) is `head`, the seconds since `start` (two
 *  digits), the milliseconds when not 0 (`.` and three digits), `tail`.
 *  Lets a caller write the text without making it. */
export function isoMinute(ms: number): IsoMinute | null {
  if (!(ms >= minute.start && ms < minute.start + 60_000 && Number.isInteger(ms))) localIso(ms)
  const m = minute
  return ms >= m.start && ms < m.start + 60_000 && Number.isInteger(ms) ? m : null
}

/** `ms` (since the epoch) in the process's time zone. */
export function localIso(ms: number): string {
  const m = minute
  if (ms >= m.start && ms < m.start + 60_000 && Number.isInteger(ms)) {
    const rest = ms - m.start
    const frac = rest % 1000
    return `${m.head}${pad(Math.floor(rest / 1000))}${frac === 0 ? '' : `.${pad(frac, 3)}`}${m.tail}`
  }
  const d = new Date(ms)
  const head = headOf(d)
  const tail = tailOf(d)
  const frac = d.getMilliseconds() === 0 ? '' : `.${pad(d.getMilliseconds(), 3)}`
  // the UTC minute of `ms` is one local minute, second 0.000 to 59.999,
  // with one offset (zones change offset at most once a minute): then its
  // other times follow from its start
  const start = ms - (((ms % 60_000) + 60_000) % 60_000)
  const first = new Date(start)
  const last = new Date(start + 59_999)
  if (Number.isInteger(ms) && first.getSeconds() === 0 && first.getMilliseconds() === 0 && last.getSeconds() === 59 &&
    last.getMilliseconds() === 999 && headOf(first) === head && headOf(last) === head && tailOf(first) === tail && tailOf(last) === tail) {
    minute = { start, head, tail }
  }
  return `${head}${pad(d.getSeconds())}${frac}${tail}`
}

const headOf = (d: Date): string => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:`
const tailOf = (d: Date): string => {
  const off = -d.getTimezoneOffset()
  return `${off < 0 ? '-' : '+'}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`
}
