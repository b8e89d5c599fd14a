// Local-time forms are read in the process's zone: pin it before any Date use.
process.env.TZ = 'Europe/Paris'

import t from 'tap'
import fc from 'fast-check'
import { parseSyslogTime } from '../../services/watcher/filters/syslog-time.js'

const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0): number =>
  Date.UTC(y, mo - 1, d, h, mi, s, ms)

// 2026-11-02 12:00 in Paris (CET, UTC+1).
const NOV_2_2026_NOON = utc(2026, 11, 2, 11)

t.test('given the process time zone is Europe/Paris', async (t) => {
  t.equal(new Date(utc(2026, 1, 15, 12)).getTimezoneOffset(), -60, 'then winter is UTC+1')
  t.equal(new Date(utc(2026, 7, 15, 12)).getTimezoneOffset(), -120, 'then summer is UTC+2')
})

t.test('given a BSD timestamp without a year', async (t) => {
  t.test('when the day has one digit after two spaces, then it is local time of now\'s year', async (t) => {
    t.same(parseSyslogTime('Nov  2 10:00:02 host sshd[123]: hello', NOV_2_2026_NOON), {
      at: utc(2026, 11, 2, 9, 0, 2),
      rest: 'host sshd[123]: hello',
    })
  })
  t.test('when the day has one digit after one space, then it parses the same', async (t) => {
    t.same(parseSyslogTime('Nov 2 10:00:02 host x', NOV_2_2026_NOON), { at: utc(2026, 11, 2, 9, 0, 2), rest: 'host x' })
  })
  t.test('when the day has two digits (or a leading zero), then it parses', async (t) => {
    t.equal(parseSyslogTime('Oct 12 23:59:59 h x', NOV_2_2026_NOON)?.at, utc(2026, 10, 12, 21, 59, 59), 'summer time: UTC+2')
    t.equal(parseSyslogTime('Nov 02 10:00:02 h x', NOV_2_2026_NOON)?.at, utc(2026, 11, 2, 9, 0, 2))
  })
  t.test('when it has fractional seconds, then milliseconds are kept', async (t) => {
    t.equal(parseSyslogTime('Nov  2 10:00:02.987654 h x', NOV_2_2026_NOON)?.at, utc(2026, 11, 2, 9, 0, 2, 987))
  })
  t.test('when every month name is used, then each maps to its month', async (t) => {
    const names = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
    const now = utc(2026, 12, 31, 12)
    names.forEach((name, i) => {
      const at = parseSyslogTime(`${name} 10 12:00:00 h x`, now)?.at
      t.equal(at === undefined ? -1 : new Date(at).getMonth(), i, name)
    })
  })
  t.test('when the line is at most a day ahead of now, then it stays in now\'s year', async (t) => {
    t.equal(parseSyslogTime('Nov  3 11:00:00 h x', NOV_2_2026_NOON)?.at, utc(2026, 11, 3, 10))
  })
  t.test('when the line would be more than a day ahead of now, then it is from the year before', async (t) => {
    t.equal(parseSyslogTime('Nov  4 10:00:00 h x', NOV_2_2026_NOON)?.at, utc(2025, 11, 4, 9))
  })
  t.test('when now is New Year\'s Day and the line is from Dec 31, then it is from the previous year', async (t) => {
    const now = utc(2026, 12, 31, 23, 0, 30) // 2027-01-01 00:00:30 in Paris
    t.same(parseSyslogTime('Dec 31 23:59:59 h x', now), { at: utc(2026, 12, 31, 22, 59, 59), rest: 'h x' })
  })
  t.test('when now is late on Dec 31 and the line is from just after midnight, then it is from the next year', async (t) => {
    const now = utc(2026, 12, 31, 22, 59) // 2026-12-31 23:59 in Paris
    t.equal(parseSyslogTime('Jan  1 00:00:30 h x', now)?.at, utc(2026, 12, 31, 23, 0, 30))
  })
  t.test('when the line is Feb 29, then only a leap year fits', async (t) => {
    t.equal(parseSyslogTime('Feb 29 10:00:00 h x', utc(2028, 3, 1))?.at, utc(2028, 2, 29, 9))
    t.equal(parseSyslogTime('Feb 29 10:00:00 h x', utc(2029, 1, 15))?.at, utc(2028, 2, 29, 9), 'the year before')
    t.equal(parseSyslogTime('Feb 29 10:00:00 h x', utc(2027, 3, 1)), null, 'neither this year nor the last')
  })
  t.test('when now is not a finite number, then there is no year to guess', async (t) => {
    t.equal(parseSyslogTime('Nov  2 10:00:02 h x', Number.NaN), null)
  })
})

t.test('given a BSD timestamp with a year', async (t) => {
  t.test('when it is parsed, then the year is used as written, whatever now is', async (t) => {
    t.same(parseSyslogTime('Nov  2 2024 10:00:02 host x', NOV_2_2026_NOON), { at: utc(2024, 11, 2, 9, 0, 2), rest: 'host x' })
    t.equal(parseSyslogTime('Nov  2 2030 10:00:02 host x', NOV_2_2026_NOON)?.at, utc(2030, 11, 2, 9, 0, 2))
  })
  t.test('when the day does not exist in that year, then null', async (t) => {
    t.equal(parseSyslogTime('Feb 29 2027 10:00:02 h x', NOV_2_2026_NOON), null)
    t.equal(parseSyslogTime('Feb 29 2028 10:00:02 h x', NOV_2_2026_NOON)?.at, utc(2028, 2, 29, 9, 0, 2))
  })
})

t.test('given an ISO-like local timestamp', async (t) => {
  t.test('when date and time are separated by a space, then it is local time', async (t) => {
    t.same(parseSyslogTime('2026-11-02 10:00:02 host sshd: x', 0), { at: utc(2026, 11, 2, 9, 0, 2), rest: 'host sshd: x' })
    t.equal(parseSyslogTime('2026-07-14 10:00:02 h', 0)?.at, utc(2026, 7, 14, 8, 0, 2), 'summer time')
  })
  t.test('when it has comma milliseconds (Python logging), then they are kept', async (t) => {
    t.equal(parseSyslogTime('2026-11-02 10:00:02,042 h', 0)?.at, utc(2026, 11, 2, 9, 0, 2, 42))
  })
  t.test('when it has a T and no zone, then it is local time too', async (t) => {
    t.equal(parseSyslogTime('2026-11-02T10:00:02 h', 0)?.at, utc(2026, 11, 2, 9, 0, 2))
  })
})

t.test('given an RFC 3339 timestamp (rsyslog file format)', async (t) => {
  t.test('when it has microseconds and an offset, then it is exact to the millisecond', async (t) => {
    t.same(parseSyslogTime('2026-11-02T10:00:02.123456+01:00 host sshd[1]: Failed', 0), {
      at: utc(2026, 11, 2, 9, 0, 2, 123),
      rest: 'host sshd[1]: Failed',
    })
  })
  t.test('when the fraction is shorter than milliseconds, then it is scaled', async (t) => {
    t.equal(parseSyslogTime('2026-11-02T10:00:02.1Z h', 0)?.at, utc(2026, 11, 2, 10, 0, 2, 100))
    t.equal(parseSyslogTime('2026-11-02T10:00:02.05Z h', 0)?.at, utc(2026, 11, 2, 10, 0, 2, 50))
  })
  t.test('when the fraction has many digits, then the rest is truncated, not rounded', async (t) => {
    t.equal(parseSyslogTime('2026-11-02T10:00:02.999999999Z h', 0)?.at, utc(2026, 11, 2, 10, 0, 2, 999))
  })
  t.test('when it is in UTC (Z), then no offset applies', async (t) => {
    t.equal(parseSyslogTime('2026-11-02T10:00:02Z h', 0)?.at, utc(2026, 11, 2, 10, 0, 2))
    t.equal(parseSyslogTime('2026-11-02t10:00:02z h', 0)?.at, utc(2026, 11, 2, 10, 0, 2), 'lower case')
  })
  t.test('when the offset is negative, or written without a colon, then it applies', async (t) => {
    t.equal(parseSyslogTime('2026-11-02T10:00:02-05:30 h', 0)?.at, utc(2026, 11, 2, 15, 30, 2))
    t.equal(parseSyslogTime('2026-11-02T10:00:02+0100 h', 0)?.at, utc(2026, 11, 2, 9, 0, 2))
  })
  t.test('when the offset crosses midnight and a year, then the date moves too', async (t) => {
    t.equal(parseSyslogTime('2027-01-01T00:30:00+02:00 h', 0)?.at, utc(2026, 12, 31, 22, 30))
  })
  t.test('when it is in a different zone from the process, then the process zone does not matter', async (t) => {
    t.equal(parseSyslogTime('2026-07-14T10:00:02+00:00 h', 0)?.at, utc(2026, 7, 14, 10, 0, 2))
  })
})

t.test('given the whitespace after a timestamp', async (t) => {
  t.test('when there are several spaces or a tab, then rest starts after all of them', async (t) => {
    t.equal(parseSyslogTime('2026-11-02T10:00:02Z   \t host', 0)?.rest, 'host')
  })
  t.test('when the line is only a timestamp, then rest is empty', async (t) => {
    t.same(parseSyslogTime('2026-11-02T10:00:02Z', 0), { at: utc(2026, 11, 2, 10, 0, 2), rest: '' })
    t.equal(parseSyslogTime('Nov  2 10:00:02', NOV_2_2026_NOON)?.rest, '')
  })
  t.test('when the timestamp runs into other text, then null', async (t) => {
    t.equal(parseSyslogTime('Nov  2 10:00:02host x', NOV_2_2026_NOON), null)
    t.equal(parseSyslogTime('2026-11-02T10:00:02+01:00x', 0), null)
    t.equal(parseSyslogTime('2026-11-02T10:00:02.x h', 0), null)
  })
})

t.test('given impossible values', async (t) => {
  const cases: readonly string[] = [
    '2026-13-02T10:00:02Z h', // month 13
    '2026-00-02T10:00:02Z h', // month 0
    '2026-11-32T10:00:02Z h', // day 32
    '2026-11-00T10:00:02Z h', // day 0
    '2026-02-30T10:00:02Z h', // Feb 30
    '2026-11-31 10:00:02 h', // Nov 31
    '2026-11-02T24:00:02Z h', // hour 24
    '2026-11-02T25:00:02Z h', // hour 25
    '2026-11-02T10:60:02Z h', // minute 60
    '2026-11-02T10:00:60Z h', // second 60
    '2026-11-02T10:00:02+24:00 h', // offset hour
    '2026-11-02T10:00:02+01:60 h', // offset minute
    '0099-11-02T10:00:02Z h', // year before the epoch
    'Nov 32 10:00:02 h', // day 32
    'Nov  0 10:00:02 h', // day 0
    'Nov 31 10:00:02 h', // Nov 31
    'Nov  2 25:00:02 h', // hour 25
    'Nov  2 10:61:02 h', // minute 61
    'Nov  2 10:00:99 h', // second 99
    'Foo  2 10:00:02 h', // month name
    'nov  2 10:00:02 h', // syslog writes month names capitalised
    'Nov  2 1969 10:00:02 h', // year before the epoch
  ]
  for (const line of cases) {
    t.equal(parseSyslogTime(line, NOV_2_2026_NOON), null, `when the line is ${JSON.stringify(line)}, then null`)
  }
})

t.test('given garbage', async (t) => {
  const cases: readonly string[] = [
    '',
    'x',
    'Nov',
    'Nov  2 10:00',
    'Nov  2 10:00:0',
    '2026-11-02T10:00',
    '2026-11-02T10:00:02+01:',
    '2026-11-02T10:00:02+1 h',
    '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0',
    'Nov\0 2 10:00:02 h',
    '2026-11-02\u000010:00:02 h',
    '\uFFFD\uFFFD\uFFFD \uFFFD 10:00:02 h',
    ' Nov  2 10:00:02 h',
    'Nov  2  10:00:02 h',
    '2026/11/02 10:00:02 h',
    '１２３４-11-02 10:00:02 h', // full-width digits
    'A'.repeat(100_000),
    '2026-11-02T10:00:02.' + '9'.repeat(100_000) + 'Z h',
  ]
  for (const line of cases) {
    t.doesNotThrow(() => parseSyslogTime(line, NOV_2_2026_NOON))
    const label = line.length > 40 ? `${JSON.stringify(line.slice(0, 40))}... (${line.length} chars)` : JSON.stringify(line)
    if (line.startsWith('2026-11-02T10:00:02.9')) {
      t.equal(parseSyslogTime(line, NOV_2_2026_NOON)?.at, utc(2026, 11, 2, 10, 0, 2, 999), `when the fraction is ${line.length} chars long, then it still parses`)
    } else {
      t.equal(parseSyslogTime(line, NOV_2_2026_NOON), null, `when the line is ${label}, then null`)
    }
  }
  t.test('when the input is not a string at run time, then null', async (t) => {
    t.equal(parseSyslogTime(undefined as unknown as string, 0), null)
  })
})

t.test('given arbitrary input (property)', async (t) => {
  t.test('when any string is parsed, then it never throws and any result is a finite time and a suffix', async (t) => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.integer({ min: 0, max: 4_102_444_800_000 }), (line, now) => {
      const got = parseSyslogTime(line, now)
      return got === null || (Number.isFinite(got.at) && line.endsWith(got.rest))
    }), { numRuns: 5_000 })
    t.pass('no counterexample')
  })
  t.test('when a timestamp-like prefix is mutated, then it never throws', async (t) => {
    const seeds = ['Nov  2 10:00:02 h', '2026-11-02T10:00:02.123+01:00 h', 'Nov  2 2026 10:00:02 h']
    fc.assert(fc.property(fc.constantFrom(...seeds), fc.nat(30), fc.string({ unit: 'binary', maxLength: 3 }), (seed, at, insert) => {
      const line = seed.slice(0, at) + insert + seed.slice(at + 1)
      const got = parseSyslogTime(line, NOV_2_2026_NOON)
      return got === null || Number.isFinite(got.at)
    }), { numRuns: 5_000 })
    t.pass('no counterexample')
  })
  t.test('when a UTC time is written as RFC 3339, then it reads back to the same millisecond', async (t) => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => {
      const text = new Date(ms).toISOString() // YYYY-MM-DDTHH:MM:SS.mmmZ
      return parseSyslogTime(`${text} host x`, 0)?.at === ms
    }), { numRuns: 5_000 })
    t.pass('no counterexample')
  })
  t.test('when a local time is written in BSD form, then it reads back to the same second', async (t) => {
    const names = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
    const pad = (n: number): string => String(n).padStart(2, '0')
    fc.assert(fc.property(fc.integer({ min: utc(2000, 1, 1), max: utc(2099, 1, 1) }), (ms) => {
      const d = new Date(Math.floor(ms / 1000) * 1000)
      const text = `${names[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
      const got = parseSyslogTime(`${text} host x`, d.getTime())?.at
      // An hour repeated when clocks go back reads as one of its two instants.
      return got === d.getTime() || (got !== undefined && Math.abs(got - d.getTime()) === 3_600_000)
    }), { numRuns: 5_000 })
    t.pass('no counterexample')
  })
})
