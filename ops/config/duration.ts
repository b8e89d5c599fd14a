// Durations in the configuration and on the command line: `30s`, `10m`,
// `48h`, `5d`, `1w`, `250ms` (long spellings such as `5 days` too),
// combinations written largest unit first (`1h30m`, `1d 12h`), or a plain
// number of seconds (`3600`, YAML `3600`), as in fail2ban.
// Everything becomes integer milliseconds.
import type { Millis } from '../../ledger/rules/types.js'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const WEEK = 7 * DAY

/** Longest duration accepted anywhere: 100 years of 365.25 days. Anything
 *  longer is a typo or an attempt at "forever", and sums such as
 *  `at + bantime * factor` must stay far inside Number.MAX_SAFE_INTEGER. */
export const MAX_DURATION: Millis = 36_525 * DAY

/** Units from largest to smallest, with their long spellings; a combined
 *  duration uses them in this order. */
const UNITS: readonly (readonly [string, number, readonly string[]])[] = [
  ['w', WEEK, ['week', 'weeks']],
  ['d', DAY, ['day', 'days']],
  ['h', HOUR, ['hour', 'hours']],
  ['m', MINUTE, ['min', 'mins', 'minute', 'minutes']],
  ['s', SECOND, ['sec', 'secs', 'second', 'seconds']],
  ['ms', 1, []],
]

const MAX_TEXT = 64

/** What a duration looks like, for messages. */
export const DURATION_FORMS = 'a duration like 30s, 10m, 48h, 5d, 1w or 1h30m, or a number of seconds'

export type DurationResult = { ok: true; ms: Millis } | { ok: false; message: string }

export type DurationOptions = {
  /** Accept `0` (default false: a duration must be positive). */
  allowZero?: boolean
}

/** Reads a duration from a YAML value or a command-line argument; never throws.
 *  On failure `message` says what is wrong in words a sysadmin understands,
 *  without repeating the value. */
export function tryParseDuration(value: unknown, opts: DurationOptions = {}): DurationResult {
  let ms: number
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return fail(`expected ${DURATION_FORMS}`)
    if (value < 0) return fail('a duration cannot be negative')
    if (value * SECOND > MAX_DURATION) return tooLong()
    const exact = toMillis(value, SECOND)
    if (exact === null) return fail('a duration cannot be finer than a millisecond')
    ms = exact
  } else if (typeof value === 'string') {
    const parsed = parseText(value)
    if (!parsed.ok) return parsed
    ms = parsed.ms
  } else {
    return fail(`expected ${DURATION_FORMS}`)
  }
  if (ms === 0 && opts.allowZero !== true) return fail('expected a duration longer than zero')
  return { ok: true, ms }
}

/** Like tryParseDuration, for callers that want an exception: throws a
 *  RangeError whose message names the value. */
export function parseDuration(value: string | number, opts: DurationOptions = {}): Millis {
  const result = tryParseDuration(value, opts)
  if (!result.ok) throw new RangeError(`${result.message}, got ${JSON.stringify(value)}`)
  return result.ms
}

/** The shortest text that parseDuration reads back as `ms`: `250ms`, `1h30m`,
 *  `2d`, `2w`; weeks only when the whole duration is a number of weeks.
 *  Throws a TypeError unless `ms` is a non-negative safe integer. */
export function formatDuration(ms: Millis): string {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new TypeError(`formatDuration expects a non-negative integer of milliseconds, got ${String(ms)}`)
  }
  if (ms === 0) return '0s'
  if (ms % WEEK === 0) return `${ms / WEEK}w`
  let rest = ms
  let text = ''
  for (const [unit, size] of UNITS) {
    if (unit === 'w') continue
    const count = Math.floor(rest / size)
    if (count > 0) {
      text += `${count}${unit}`
      rest -= count * size
    }
  }
  return text
}

function parseText(raw: string): DurationResult {
  const text = raw.trim()
  if (text.length === 0 || text.length > MAX_TEXT) return fail(`expected ${DURATION_FORMS}`)
  if (/^-\s*\d/.test(text)) return fail('a duration cannot be negative')
  // A plain number is seconds, as in fail2ban.
  if (/^\d+(\.\d+)?$/.test(text)) {
    const seconds = Number(text)
    if (seconds * SECOND > MAX_DURATION) return tooLong()
    const ms = toMillis(seconds, SECOND)
    if (ms === null) return fail('a duration cannot be finer than a millisecond')
    return { ok: true, ms }
  }
  const part = /(\d+(?:\.\d+)?)\s*([a-z]+)\s*/y
  let at = 0
  let next = 0 // index in UNITS of the largest unit still allowed
  let total = 0
  while (at < text.length) {
    part.lastIndex = at
    const match = part.exec(text)
    if (match === null) return fail(`expected ${DURATION_FORMS}`)
    const [whole, amount = '', unit = ''] = match
    const index = UNITS.findIndex(([name, , long]) => name === unit || long.includes(unit))
    if (index === -1) return fail(`unknown unit ${JSON.stringify(unit)} (units are w, d, h, m, s and ms)`)
    if (index < next) return fail(`expected ${DURATION_FORMS}; write units largest first, each once (like 1h30m)`)
    next = index + 1
    const size = UNITS[index]?.[1] ?? 1
    const value = Number(amount)
    if (total + value * size > MAX_DURATION) return tooLong()
    const ms = toMillis(value, size)
    if (ms === null) return fail('a duration cannot be finer than a millisecond')
    total += ms
    at += whole.length
  }
  return { ok: true, ms: total }
}

/** `value * size` when that is a whole number of milliseconds (to float
 *  precision: `1.1s` is 1100), else null. */
function toMillis(value: number, size: number): number | null {
  const exact = value * size
  const rounded = Math.round(exact)
  return Math.abs(exact - rounded) < 1e-6 ? rounded : null
}

function tooLong(): DurationResult {
  return fail(`expected a duration of at most ${formatDuration(MAX_DURATION)} (100 years)`)
}

function fail(message: string): DurationResult {
  return { ok: false, message }
}
