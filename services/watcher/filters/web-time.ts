// The timestamps web servers write, hand-parsed like syslog-time.ts:
//   Apache error log  `Tue Nov 03 10:00:02.123456 2026` (2.4) or
//                     `Tue Nov 03 10:00:02 2026` (2.2): local time
//   access log        `03/Nov/2026:10:00:02 +0100`: with its offset
//   nginx error log   `2026/11/03 10:00:02`: local time
// "Local time" is the process's time zone (TZ), as the servers write it.
import { digits, isDigit } from './syslog-time.js'

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']
const MIN_YEAR = 1970

/** `Www Mmm DD HH:MM:SS[.ffffff] YYYY` (the whole of `text`), local time,
 *  as ms since the epoch; null when it is not one or names no real time. */
export function parseApacheErrorTime(text: string): number | null {
  // Www Mmm DD HH:MM:SS
  if (!DAYS.includes(text.slice(0, 3)) || text.charCodeAt(3) !== 32) return null
  const month = MONTHS.indexOf(text.slice(4, 7)) + 1
  if (month === 0 || text.charCodeAt(7) !== 32) return null
  const day = text.charCodeAt(8) === 32 ? digits(text, 9, 1) : digits(text, 8, 2)
  if (text.charCodeAt(10) !== 32) return null
  const clock = parseClock(text, 11)
  if (clock === null) return null
  const i = clock.end
  if (text.charCodeAt(i) !== 32) return null
  const year = digits(text, i + 1, 4)
  if (i + 5 !== text.length) return null
  return localTime(year, month, day, clock)
}

/** `DD/Mmm/YYYY:HH:MM:SS +HHMM` (the whole of `text`), as ms since the
 *  epoch, UTC; null when it is not one or names no real time. */
export function parseAccessLogTime(text: string): number | null {
  if (text.length !== 26) return null
  const day = digits(text, 0, 2)
  const month = MONTHS.indexOf(text.slice(3, 6)) + 1
  const year = digits(text, 7, 4)
  if (text.charCodeAt(2) !== 47 || text.charCodeAt(6) !== 47 || text.charCodeAt(11) !== 58) return null
  if (month === 0 || !validDate(year, month, day)) return null
  const clock = parseClock(text, 12)
  if (clock === null || clock.end !== 20 || text.charCodeAt(20) !== 32) return null
  const sign = text.charCodeAt(21)
  const oh = digits(text, 22, 2)
  const om = digits(text, 24, 2)
  if ((sign !== 43 && sign !== 45) || oh < 0 || oh > 23 || om < 0 || om > 59) return null
  const offset = (sign === 43 ? 1 : -1) * (oh * 60 + om)
  return Date.UTC(year, month - 1, day, clock.hour, clock.minute, clock.second, clock.ms) - offset * 60_000
}

/** `YYYY/MM/DD HH:MM:SS` (the whole of `text`), local time, as ms since
 *  the epoch; null when it is not one or names no real time. */
export function parseNginxTime(text: string): number | null {
  if (text.length !== 19 || text.charCodeAt(4) !== 47 || text.charCodeAt(7) !== 47 || text.charCodeAt(10) !== 32) return null
  const clock = parseClock(text, 11)
  if (clock === null || clock.end !== 19) return null
  return localTime(digits(text, 0, 4), digits(text, 5, 2), digits(text, 8, 2), clock)
}

type Clock = Readonly<{ hour: number; minute: number; second: number; ms: number; end: number }>

/** `HH:MM:SS` with optional `.fraction` (milliseconds kept) at `i`. */
function parseClock(s: string, i: number): Clock | null {
  const hour = digits(s, i, 2)
  const minute = digits(s, i + 3, 2)
  const second = digits(s, i + 6, 2)
  if (s.charCodeAt(i + 2) !== 58 || s.charCodeAt(i + 5) !== 58) return null
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return null
  let end = i + 8
  let ms = 0
  if (s.charCodeAt(end) === 46 && isDigit(s.charCodeAt(end + 1))) {
    end++
    let scale = 100
    while (isDigit(s.charCodeAt(end)) && end - i < 20) {
      if (scale >= 1) ms += (s.charCodeAt(end) - 48) * scale
      scale /= 10
      end++
    }
  }
  return { hour, minute, second, ms, end }
}

function localTime(year: number, month: number, day: number, c: Clock): number | null {
  if (!validDate(year, month, day)) return null
  return new Date(year, month - 1, day, c.hour, c.minute, c.second, c.ms).getTime()
}

function validDate(year: number, month: number, day: number): boolean {
  return year >= MIN_YEAR && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month)
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}
