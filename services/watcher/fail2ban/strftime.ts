// fail2ban's strptime-style date patterns: `%X` fields inside a Python
// regex. expandStrftime() turns each field into a named group (Python regex
// text, translated later by python-regex.ts); fieldsToTime() turns the
// groups of a match into a time, as fail2ban's strptime does: a missing year
// is `now`'s, moved back a year when that puts the date more than a day in
// the future; a missing date is today's (yesterday's if in the future);
// without %z/%Z the local time zone (the process's TZ) applies; fractions of
// a second are dropped (fail2ban keeps whole seconds for these fields).
// The field expressions and the zone table are our own.

import { Fail2banError } from './errors.js'

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december']
const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday']
/** Month names and their first three letters (lower case, Capitalised and
 *  UPPER, the forms logs use) -> 1-12: one lookup per dated line, where
 *  lower-casing and comparing with each name made a dozen strings. */
const MONTH_NUMBER: ReadonlyMap<string, number> = new Map(MONTHS.flatMap((m, i) => [m, m.slice(0, 3)].flatMap((n) =>
  [n, n.charAt(0).toUpperCase() + n.slice(1), n.toUpperCase()].map((k) => [k, i + 1] as const))))
const byLength = (xs: readonly string[]): string => [...xs].sort((a, b) => b.length - a.length || (a < b ? -1 : 1)).join('|')

/** Field -> Python regex text. The `Ex` forms are fail2ban's exact-width ones. */
const FIELDS: Readonly<Record<string, string>> = {
  Y: String.raw`(?P<Y>\d{4})`,
  ExY: String.raw`(?P<Y>20\d\d)`, // fail2ban: this century's plausible years; we accept 2000-2099
  y: String.raw`(?P<y>\d\d)`,
  Exy: String.raw`(?P<y>\d\d)`,
  m: String.raw`(?P<m>1[0-2]|0?[1-9])`,
  Exm: String.raw`(?P<m>1[0-2]|0[1-9])`,
  d: String.raw`(?P<d>3[01]|[12]\d|[0 ]?[1-9])`,
  Exd: String.raw`(?P<d>3[01]|[12]\d|0[1-9])`,
  e: String.raw` ?(?P<d>3[01]|[12]\d|0?[1-9])`,
  H: String.raw`(?P<H>2[0-3]|[01]?\d)`,
  ExH: String.raw`(?P<H>2[0-3]|[01]\d)`,
  k: String.raw` ?(?P<H>2[0-3]|[01]?\d)`,
  Exk: String.raw` ?(?P<H>2[0-3]|[01]?\d)`,
  I: String.raw`(?P<I>1[0-2]|0?[1-9])`,
  l: String.raw` ?(?P<I>1[0-2]|0?[1-9])`,
  Exl: String.raw` ?(?P<I>1[0-2]|\d)`,
  M: String.raw`(?P<M>[0-5]?\d)`,
  ExM: String.raw`(?P<M>[0-5]\d)`,
  S: String.raw`(?P<S>6[01]|[0-5]?\d)`,
  ExS: String.raw`(?P<S>6[01]|[0-5]\d)`,
  f: String.raw`(?P<f>\d{1,6})`,
  j: String.raw`(?P<j>36[0-6]|3[0-5]\d|[12]\d\d|0?[1-9]\d|0{0,2}[1-9])`,
  s: String.raw`(?P<s>\d{1,12})`,
  w: String.raw`(?P<w>[0-6])`,
  b: `(?P<b>${byLength(MONTHS.map((m) => m.slice(0, 3)))})`,
  B: `(?P<B>${byLength(MONTHS)})`,
  a: `(?P<a>${byLength(DAYS.map((d) => d.slice(0, 3)))})`,
  A: `(?P<A>${byLength(DAYS)})`,
  p: '(?P<p>am|pm)',
  z: String.raw`(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d\d)?)`,
  Z: '(?P<Z>Z|[A-Z]{3,5})',
  Exz: String.raw`(?P<z>(?:[A-Z](?:[A-Z]{2,4})?)?[+-][01]\d(?::?\d\d)?|[A-Z](?:[A-Z]{2,4})?)`,
  ExZ: '(?P<Z>[A-Z](?:[A-Z]{2,4})?)',
}
const ALPHA = new Set(['a', 'A', 'b', 'B', 'p'])
const FIELD_RE = /%(%|Ex[A-Za-z]|[A-Za-z])/g

/** Python regex text for `pattern`'s `%` fields; `alpha` when a name field
 *  (month, weekday, am/pm) makes the whole pattern case-insensitive. Throws
 *  BANLEDGER_FILTER_INVALID on an unknown field. */
export function expandStrftime(pattern: string): { regex: string; alpha: boolean } {
  let alpha = false
  const regex = pattern.replace(FIELD_RE, (all, f: string) => {
    if (f === '%') return '%'
    const r = FIELDS[f]
    if (r === undefined) throw new Fail2banError('BANLEDGER_FILTER_INVALID', `datepattern ${JSON.stringify(pattern)}: unknown field ${all}`)
    if (ALPHA.has(f)) alpha = true
    return r
  })
  return { regex, alpha }
}

/** Zone abbreviations -> minutes east of UTC (a common subset; fixed offsets,
 *  no daylight-saving switch, as fail2ban does). */
const ZONES: Readonly<Record<string, number>> = {
  Z: 0, UTC: 0, GMT: 0, UT: 0, WET: 0, WEST: 60, BST: 60, IST: 330, CET: 60, MET: 60, CEST: 120, MEST: 120, EET: 120, EEST: 180,
  MSK: 180, EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420, AKST: -540, AKDT: -480,
  HST: -600, AST: -240, ADT: -180, NST: -210, NDT: -150, JST: 540, KST: 540, HKT: 480, SGT: 480, AWST: 480, ACST: 570,
  ACDT: 630, AEST: 600, AEDT: 660, NZST: 720, NZDT: 780, SAST: 120, WAT: 60, CAT: 120, EAT: 180, PKT: 300,
}

/** Minutes east of UTC for a %z/%Z value (`+0200`, `+02:00`, `+02`, `CEST`,
 *  `CET+0100`), or undefined when unknown. */
export function zoneOffset(z: string): number | undefined {
  const m = /^([A-Za-z]{1,5})?(?:([+-])([01]\d)(?::?(\d\d))?)?$/.exec(z)
  if (m === null) return undefined
  const base = m[1] === undefined ? 0 : ZONES[m[1]]
  if (base === undefined) return undefined
  if (m[2] === undefined) return base
  const mins = Number(m[3]) * 60 + Number(m[4] ?? 0)
  return base + (m[2] === '-' ? -mins : mins)
}

const DAY = 86_400_000

/** Days of each month in 2000 (a leap year): the validity check below. */
const DAYS_2000 = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function localTime(y: number, mo: number, d: number, h: number, mi: number, s: number, offset: number | undefined): number | null {
  // a valid day of month `mo` in 2000, and 29 February only in a leap year
  // (arithmetic form of: Date.UTC(2000, mo - 1, d) keeps day d)
  const dim = DAYS_2000[mo - 1]
  if (dim === undefined || !Number.isInteger(d) || d < 1 || d > dim || (mo === 2 && d === 29 && !leap(y))) return null
  if (offset !== undefined) {
    const t = new Date(Date.UTC(2000, mo - 1, d, h, mi, s))
    t.setUTCFullYear(y)
    return t.getTime() - offset * 60_000
  }
  const m = lastMinute
  if (m.y === y && m.mo === mo && m.d === d && m.h === h && m.mi === mi && s >= 0 && s <= 59 && Number.isInteger(s)) {
    return m.t0 + s * 1000
  }
  const t = localDate(y, mo, d, h, mi, s)
  // a minute whose seconds 0 and 59 are 59 s apart has one UTC offset
  // throughout (zones change offset at most once a minute): its other
  // seconds follow from second 0
  const t0 = localDate(y, mo, d, h, mi, 0)
  if (localDate(y, mo, d, h, mi, 59) - t0 === 59_000) lastMinute = { y, mo, d, h, mi, t0 }
  return t
}
const localDate = (y: number, mo: number, d: number, h: number, mi: number, s: number): number => {
  const t = new Date(2000, mo - 1, d, h, mi, s)
  t.setFullYear(y)
  return t.getTime()
}
/** The last local minute localTime converted: syslog dates repeat it for
 *  many lines, and a Date in the local zone costs a zone lookup. Assumes,
 *  as nowFields, that the process's time zone does not change. */
let lastMinute = { y: NaN, mo: 0, d: 0, h: 0, mi: 0, t0: 0 }
const leap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0

/** `now`'s local year, month, day and zone offset, for the last `now` seen
 *  (a log is read with one `now`, or a clock that moves slowly). Assumes the
 *  process's time zone does not change while it runs. */
let nowCache = { now: NaN, year: 0, month: 0, day: 0, tzOffset: 0 }
function nowFields(now: number): typeof nowCache {
  if (nowCache.now === now) return nowCache
  const d = new Date(now)
  nowCache = { now, year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), tzOffset: d.getTimezoneOffset() }
  return nowCache
}
/** The named groups fieldsToTime reads, as slots of a DateFields array: one
 *  shape for every template, read by constant index (by name, the reads
 *  would go through V8's slowest property lookup: many names, one site). */
const FIELD_NAMES = ['Y', 'y', 'm', 'b', 'B', 'd', 'H', 'I', 'p', 'M', 'S', 'z', 'Z', 'j', 's'] as const
const slotOf = (name: (typeof FIELD_NAMES)[number]): number => FIELD_NAMES.indexOf(name)
const Y = slotOf('Y')
const Y2 = slotOf('y')
const MO = slotOf('m')
const B = slotOf('b')
const B_LONG = slotOf('B')
const D = slotOf('d')
const H = slotOf('H')
const I12 = slotOf('I')
const P = slotOf('p')
const MI = slotOf('M')
const S = slotOf('S')
const Z = slotOf('z')
const Z_NAME = slotOf('Z')
const J = slotOf('j')
const EPOCH = slotOf('s')
/** A date match's field texts, by fieldSlot(); undefined: not in the match. */
export type DateFields = (string | undefined)[]
/** The DateFields slot of named group `name`, or -1 when no field reads it. */
export const fieldSlot = (name: string): number => (FIELD_NAMES as readonly string[]).indexOf(name)
/** DateFields from named groups. */
export const dateFields = (g: Readonly<Record<string, string | undefined>>): DateFields => FIELD_NAMES.map((k) => g[k])

/** A field as a number: ASCII digits after ASCII spaces (syslog's day of
 *  month, " 2") read directly (Number() on a fresh string is slow);
 *  anything else (other Unicode digits or spaces, no digit) as Number()
 *  reads it. */
export const num = (v: string | undefined): number | undefined => {
  if (v === undefined) return undefined
  let i = 0
  while (i < v.length && v.charCodeAt(i) === 32) i++
  if (i === v.length) return Number(v)
  let n = 0
  for (; i < v.length; i++) {
    const c = v.charCodeAt(i) - 48
    if (c < 0 || c > 9) return Number(v)
    n = n * 10 + c
  }
  return n
}

/** The time in ms of a date pattern's fields, or null when they do not
 *  make a valid date. `now` (ms) supplies a missing year or date. */
export function fieldsToTime(g: Readonly<DateFields>, now: number): number | null {
  return SCRATCH.prepare(g, now).finish(g)
}

/** fieldsToTime in two steps: prepare() reads every field but the seconds
 *  (and `now`), finish() the seconds. A prepared TimeParts serves every
 *  date whose other fields and `now` are the same (syslog dates of one
 *  minute): finish(g) is then fieldsToTime(g, now). */
export class TimeParts {
  /** 0: no valid date; 1: epoch; 2: the fields below */
  private kind = 0
  private epoch = 0
  private y = 0
  private month = 0
  private day = 0
  private hour = 0
  private minute = 0
  private offset: number | undefined = undefined
  private assumeToday = false
  private assumeYear = false
  private cmpNow = 0

  prepare(g: Readonly<DateFields>, now: number): this {
    this.kind = 0
    const epoch = g[EPOCH]
    if (epoch !== undefined) {
      this.kind = 1
      this.epoch = Number(epoch) * 1000
      return this
    }
    let year = num(g[Y])
    const y2 = num(g[Y2])
    if (year === undefined && y2 !== undefined) year = y2 <= 2000 ? y2 + 2000 : y2
    let month = num(g[MO])
    const name = g[B] ?? g[B_LONG]
    if (month === undefined && name !== undefined) {
      month = MONTH_NUMBER.get(name) ?? MONTH_NUMBER.get(name.toLowerCase())
      if (month === undefined) return this
    }
    let day = num(g[D])
    let hour = num(g[H]) ?? 0
    const h12 = num(g[I12])
    if (h12 !== undefined) {
      const pm = g[P]?.toLowerCase() === 'pm'
      hour = pm ? (h12 === 12 ? 12 : h12 + 12) : h12 === 12 ? 0 : h12
    }
    const minute = num(g[MI]) ?? 0
    const zone = g[Z] ?? g[Z_NAME]
    let offset: number | undefined
    if (zone !== undefined) {
      offset = zoneOffset(zone)
      if (offset === undefined) return this
    }
    const nowDate = nowFields(now)
    const assumeYear = year === undefined
    let y = year ?? nowDate.year
    const julian = num(g[J])
    if ((month === undefined || day === undefined) && julian !== undefined) {
      const d = new Date(Date.UTC(2000, 0, julian))
      d.setUTCFullYear(y, 0, julian)
      y = d.getUTCFullYear()
      month = d.getUTCMonth() + 1
      day = d.getUTCDate()
    }
    let assumeToday = false
    if (month === undefined && day === undefined) {
      month = nowDate.month
      day = nowDate.day
      assumeToday = true
    }
    if (month === undefined || day === undefined) return this
    this.kind = 2
    this.y = y
    this.month = month
    this.day = day
    this.hour = hour
    this.minute = minute
    this.offset = offset
    this.assumeToday = assumeToday
    this.assumeYear = assumeYear
    // fail2ban compares naive datetimes: a zoned result (UTC) against local `now`
    this.cmpNow = offset === undefined ? now : now - nowDate.tzOffset * 60_000
    return this
  }

  /** The time of the prepared fields with the seconds of `g`. */
  finish(g: Readonly<DateFields>): number | null {
    if (this.kind === 0) return null
    if (this.kind === 1) return this.epoch
    const second = num(g[S]) ?? 0
    const { y, month, day, hour, minute, offset, cmpNow } = this
    let t = localTime(y, month, day, hour, minute, second, offset)
    if (t === null) return null
    if (this.assumeToday && t > cmpNow) t -= DAY
    if (this.assumeYear && t > cmpNow + DAY) t = localTime(y - 1, month, day, hour, minute, second, offset)
    return t
  }
}
/** The seconds' slot: the field finish() reads. */
export const SECONDS_SLOT = S
const SCRATCH = new TimeParts()
