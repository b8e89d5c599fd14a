// The timestamp at the start of a log line, as syslog daemons write it.
// Hand-parsed with char codes: this runs on every line a watcher reads.
//
// Accepted forms (the timestamp must be followed by whitespace or the end):
//   Nov  2 10:00:02           BSD, no year: local time, year guessed from `now`
//   Nov  2 2026 10:00:02      BSD with a year: local time
//   2026-11-02 10:00:02       local time
//   2026-11-02T10:00:02       local time
//   2026-11-02T10:00:02.123456+01:00 / ...Z   RFC 3339 (rsyslog's file format)
// Every form takes optional fractional seconds (`.` or `,`, milliseconds
// kept, the rest truncated); the ISO forms take an optional zone
// (`Z`, `+HH:MM`, `+HHMM`). "Local time" is the process's time zone (TZ).

export type SyslogTime = Readonly<{
  /** Milliseconds since the epoch, UTC. */
  at: number
  /** The line after the timestamp and the whitespace that follows it. */
  rest: string
}>

const DAY = 86_400_000
const MIN_YEAR = 1970

/** Month names by their three char codes packed in one number (no string
 *  is cut out of the line to look one up). */
const MONTHS: ReadonlyMap<number, number> = new Map(
  ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
    .map((name, i) => [monthKey(name), i + 1]),
)

function monthKey(s: string): number {
  const a = s.charCodeAt(0)
  const b = s.charCodeAt(1)
  const c = s.charCodeAt(2)
  if (!(a < 128 && b < 128 && c < 128)) return -1 // also past the end (NaN)
  return (a << 16) | (b << 8) | c
}

const SPACE = 32
const TAB = 9
const COLON = 58
const DASH = 45
const PLUS = 43
const DOT = 46
const COMMA = 44

/** The timestamp at the start of `line`, or null when there is none or it
 *  names an impossible time. Never throws. `now` (ms since the epoch) only
 *  serves to guess the year of BSD timestamps without one: `now`'s year,
 *  unless that puts the line more than a day after `now` (then the year
 *  before), or the line is from early January seen late in December (then
 *  the year after, when that is at most a day ahead of `now`). */
export function parseSyslogTime(line: string, now: number): SyslogTime | null {
  if (typeof line !== 'string' || line.length < 15) return null
  const c0 = line.charCodeAt(0)
  if (isDigit(c0)) return parseIso(line)
  return parseBsd(line, now)
}

function parseBsd(s: string, now: number): SyslogTime | null {
  const month = MONTHS.get(monthKey(s))
  if (month === undefined || s.charCodeAt(3) !== SPACE) return null
  let i: number
  let day: number
  if (s.charCodeAt(4) === SPACE) {
    day = digits(s, 5, 1)
    i = 6
  } else if (isDigit(s.charCodeAt(5))) {
    day = digits(s, 4, 2)
    i = 6
  } else {
    day = digits(s, 4, 1)
    i = 5
  }
  if (day < 1 || s.charCodeAt(i) !== SPACE) return null
  i++
  let year = -1
  if (s.charCodeAt(i + 2) !== COLON) {
    year = digits(s, i, 4)
    if (year < MIN_YEAR || s.charCodeAt(i + 4) !== SPACE) return null
    i += 5
  }
  const clock = parseClock(s, i)
  if (clock === null) return null
  const { hour, minute, second, ms } = clock
  i = clock.end
  const restStart = afterTimestamp(s, i)
  if (restStart < 0) return null
  let at: number
  if (year >= 0) {
    if (day > daysInMonth(year, month)) return null
    at = localTime(year, month, day, hour, minute, second, ms)
  } else {
    const guessed = guessYear(now, month, day, hour, minute, second, ms)
    if (guessed === null) return null
    at = guessed
  }
  return { at, rest: s.slice(restStart) }
}

function parseIso(s: string): SyslogTime | null {
  const year = digits(s, 0, 4)
  const month = digits(s, 5, 2)
  const day = digits(s, 8, 2)
  if (year < MIN_YEAR || s.charCodeAt(4) !== DASH || s.charCodeAt(7) !== DASH) return null
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null
  const sep = s.charCodeAt(10)
  if (sep !== 84 /* T */ && sep !== 116 /* t */ && sep !== SPACE) return null
  const clock = parseClock(s, 11)
  if (clock === null) return null
  const { hour, minute, second, ms } = clock
  let i = clock.end
  let offset: number | null = null // minutes east of UTC; null: local time
  const z = s.charCodeAt(i)
  if (z === 90 /* Z */ || z === 122 /* z */) {
    offset = 0
    i++
  } else if (z === PLUS || z === DASH) {
    const oh = digits(s, i + 1, 2)
    let om: number
    if (s.charCodeAt(i + 3) === COLON) {
      om = digits(s, i + 4, 2)
      i += 6
    } else {
      om = digits(s, i + 3, 2)
      i += 5
    }
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return null
    offset = (z === PLUS ? 1 : -1) * (oh * 60 + om)
  }
  const restStart = afterTimestamp(s, i)
  if (restStart < 0) return null
  const at = offset === null
    ? localTime(year, month, day, hour, minute, second, ms)
    : Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset * 60_000
  return { at, rest: s.slice(restStart) }
}

type Clock = { hour: number; minute: number; second: number; ms: number; end: number }

/** `HH:MM:SS` with optional fractional seconds, at `i`. */
function parseClock(s: string, i: number): Clock | null {
  const hour = digits(s, i, 2)
  const minute = digits(s, i + 3, 2)
  const second = digits(s, i + 6, 2)
  if (s.charCodeAt(i + 2) !== COLON || s.charCodeAt(i + 5) !== COLON) return null
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return null
  let end = i + 8
  let ms = 0
  const sep = s.charCodeAt(end)
  if ((sep === DOT || sep === COMMA) && isDigit(s.charCodeAt(end + 1))) {
    end++
    let scale = 100
    while (isDigit(s.charCodeAt(end))) {
      if (scale >= 1) ms += (s.charCodeAt(end) - 48) * scale
      scale /= 10
      end++
    }
  }
  return { hour, minute, second, ms, end }
}

/** Where the rest starts: past the whitespace after the timestamp ending at
 *  `i`, or -1 when the timestamp runs into other text. */
function afterTimestamp(s: string, i: number): number {
  if (i === s.length) return i
  let c = s.charCodeAt(i)
  if (c !== SPACE && c !== TAB) return -1
  do {
    i++
    c = s.charCodeAt(i)
  } while (c === SPACE || c === TAB)
  return i
}

function guessYear(
  now: number, month: number, day: number,
  hour: number, minute: number, second: number, ms: number,
): number | null {
  if (!Number.isFinite(now)) return null
  if (!(now >= nowYearCache.from && now < nowYearCache.to)) nowYearCache = yearAround(now)
  const nowYear = nowYearCache.year
  const latest = now + DAY
  if (month === 1 && now >= nowYearCache.december) {
    // Early January read late in December: the new year already began in the log.
    const next = localTime(nowYear + 1, month, day, hour, minute, second, ms)
    if (next <= latest) return next
  }
  for (let year = nowYear; year >= nowYear - 1; year--) {
    if (day > daysInMonth(year, month)) continue
    const at = localTime(year, month, day, hour, minute, second, ms)
    if (at <= latest) return at
  }
  return null
}

/** The local year holding `now`, its bounds and the start of its December.
 *  Cached: `now` moves slowly, and a Date per line is not free. The bounds
 *  are computed in the time zone of the moment they are computed. */
type NowYear = Readonly<{ year: number; from: number; to: number; december: number }>
let nowYearCache: NowYear = { year: 0, from: 0, to: -1, december: 0 }

function yearAround(now: number): NowYear {
  const year = new Date(now).getFullYear()
  return {
    year,
    from: new Date(year, 0, 1).getTime(),
    to: new Date(year + 1, 0, 1).getTime(),
    december: new Date(year, 11, 1).getTime(),
  }
}

function localTime(
  year: number, month: number, day: number,
  hour: number, minute: number, second: number, ms: number,
): number {
  return new Date(year, month - 1, day, hour, minute, second, ms).getTime()
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57 // false for NaN (past the end)
}

/** The decimal number of exactly `n` digits at `i`, or -1. */
export function digits(s: string, i: number, n: number): number {
  let v = 0
  for (let k = 0; k < n; k++) {
    const c = s.charCodeAt(i + k)
    if (!isDigit(c)) return -1
    v = v * 10 + (c - 48)
  }
  return v
}
