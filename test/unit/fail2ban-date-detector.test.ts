// fail2ban-compatible date detection: each template family, year and day
// guessing, time zones. Our own fixtures.
process.env['TZ'] = 'Europe/Zurich' // before any Date use
import t from 'tap'
import { DATE, DateDetector, EMPTY, INVALID, NONE } from '../../services/watcher/fail2ban/date-detector.js'
import { dateFields, expandStrftime, fieldsToTime, num, TimeParts, zoneOffset } from '../../services/watcher/fail2ban/strftime.js'

const NOW = Date.UTC(2024, 2, 10, 11, 0, 0) // 2024-03-10 12:00 CET
const local = (y: number, mo: number, d: number, h: number, mi: number, s: number): number => new Date(y, mo - 1, d, h, mi, s).getTime()

t.test('default templates: ISO date with a zone offset, removed text', async (t) => {
  const line = '2024-03-05 10:11:12 +0100 sshd[1]: hello'
  const m = new DateDetector().detect(line, NOW)
  t.equal(m?.kind, 'date')
  t.equal(m?.time, Date.UTC(2024, 2, 5, 9, 11, 12))
  t.equal(line.slice(m?.matchStart, m?.matchEnd), '2024-03-05 10:11:12 +0100')
})

t.test('default templates: local time follows TZ (summer time)', async (t) => {
  const m = new DateDetector().detect('2024-07-01T12:00:00 x', NOW)
  t.equal(m?.time, Date.UTC(2024, 6, 1, 10, 0, 0))
})

t.test('syslog date without a year takes now\'s year, or the previous one when more than a day ahead', async (t) => {
  const d = new DateDetector()
  const m = d.detect('Mar  5 10:11:12 host sshd[1]: x', NOW)
  t.equal(m?.time, local(2024, 3, 5, 10, 11, 12))
  t.equal(d.detect('Mar 11 10:00:00 host x', NOW)?.time, local(2024, 3, 11, 10, 0, 0), 'within a day ahead: same year')
  t.equal(d.detect('Mar 12 10:00:00 host x', NOW)?.time, local(2023, 3, 12, 10, 0, 0), 'more than a day ahead: last year')
  t.equal(new DateDetector().detect('Dec 31 23:59:59 host x', Date.UTC(2024, 0, 1, 12))?.time, local(2023, 12, 31, 23, 59, 59))
})

t.test('time only: today, or yesterday when in the future', async (t) => {
  const d = new DateDetector('{^LN-BEG}%H:%M:%S')
  t.equal(d.detect('10:11:12 x', NOW)?.time, local(2024, 3, 10, 10, 11, 12))
  t.equal(d.detect('23:00:00 x', NOW)?.time, local(2024, 3, 9, 23, 0, 0))
})

t.test('strptime datepattern with names, zone, and literal brackets', async (t) => {
  const d = new DateDetector(String.raw`^\[%d/%b/%Y:%H:%M:%S %z\]`)
  const line = '[05/mar/2024:10:11:12 -0200] GET /'
  const m = d.detect(line, NOW)
  t.equal(m?.time, Date.UTC(2024, 2, 5, 12, 11, 12))
  t.equal(line.slice(m?.matchStart, m?.matchEnd), '[05/mar/2024:10:11:12 -0200]', 'no group: the whole match is the date')
  t.equal(new DateDetector('%b %d, %ExY %I:%M:%S %p').detect('x Mar 05, 2024 01:02:03 PM y', NOW)?.time, local(2024, 3, 5, 13, 2, 3))
  t.equal(new DateDetector('%b %d, %ExY %I:%M:%S %p').detect('Mar 05, 2024 12:02:03 AM', NOW)?.time, local(2024, 3, 5, 0, 2, 3))
  t.equal(new DateDetector('%d.%m.%y %H:%M').detect('05.03.24 10:11', NOW)?.time, local(2024, 3, 5, 10, 11, 0), '%y')
  t.equal(new DateDetector('%Y %j %H:%M:%S').detect('2024 065 10:00:00', NOW)?.time, local(2024, 3, 5, 10, 0, 0), '%j')
  t.equal(new DateDetector('%Y-%m-%d %H:%M:%S %Z').detect('2024-03-05 10:00:00 CEST', NOW)?.time, Date.UTC(2024, 2, 5, 8, 0, 0), '%Z')
})

t.test('{DATE} places each default template inside the regex; its group is the date', async (t) => {
  const d = new DateDetector(String.raw`^[^\[]*\[({DATE})`)
  const line = 'host [2024-03-05 10:11:12] msg'
  const m = d.detect(line, NOW)
  t.equal(m?.time, local(2024, 3, 5, 10, 11, 12))
  t.equal(line.slice(m?.matchStart, m?.matchEnd), '2024-03-05 10:11:12')
})

t.test('{^LN-BEG} anchors at line start only', async (t) => {
  const d = new DateDetector('{^LN-BEG}')
  t.equal(d.detect('msg at 2024-03-05 10:11:12', NOW), null)
  t.equal(d.detect('  2024-03-05 10:11:12 x', NOW)?.time, local(2024, 3, 5, 10, 11, 12))
})

t.test('Epoch, LEPOCH, {EPOCH}, TAI64N', async (t) => {
  t.equal(new DateDetector('EPOCH').detect('1700000000.123 x', NOW)?.time, 1700000000123)
  t.equal(new DateDetector('EPOCH').detect('type=X audit(1700000000.500:42): y', NOW)?.time, 1700000000500)
  t.equal(new DateDetector('LEPOCH').detect('1700000000123 x', NOW)?.time, 1700000000123)
  t.equal(new DateDetector(String.raw`^ts={EPOCH} `).detect('ts=1700000000 x', NOW)?.time, 1700000000000)
  const tai = new DateDetector('{^LN-BEG}TAI64N').detect('@40000000655345a0001e8480 x', NOW)
  t.equal(tai?.time, 0x655345a0 * 1000)
})

t.test('ISO8601 keyword, {NONE}, invalid dates, unknown fields', async (t) => {
  t.equal(new DateDetector('ISO8601').detect('2024-03-05T10:11:12Z', NOW)?.time, Date.UTC(2024, 2, 5, 10, 11, 12))
  t.equal(new DateDetector('{NONE}').detect('anything', NOW)?.kind, 'empty')
  t.equal(new DateDetector().detect('2024-02-30 10:00:00 x', NOW)?.kind, 'invalid')
  t.throws(() => new DateDetector('%Q'), { code: 'BANLEDGER_FILTER_INVALID' })
  // the defaults are translated on first use; a filter's own regex at once
  t.throws(() => new DateDetector('(?(9)a|b)%H:%M:%S'), { code: 'BANLEDGER_REGEX_UNSUPPORTED' })
  t.throws(() => new DateDetector('^<(?(9)a|b)>{DATE}'), { code: 'BANLEDGER_REGEX_UNSUPPORTED' })
})

t.test('the template that matched last is preferred', async (t) => {
  const d = new DateDetector()
  d.detect('Mar  5 10:11:12 host x', NOW)
  d.detect('Mar  5 10:11:13 host x', NOW)
  t.equal(d.templates[0]?.startsWith('{^LN-BEG}'), true)
  t.equal(d.used.size, 1)
  t.same([...d.used.values()], [2])
})

t.test('strftime helpers', async (t) => {
  t.equal(zoneOffset('+0530'), 330)
  t.equal(zoneOffset('-02'), -120)
  t.equal(zoneOffset('CET+0100'), 120)
  t.equal(zoneOffset('XYZQ'), undefined)
  t.ok(expandStrftime('%b').alpha)
  t.equal(fieldsToTime(dateFields({ s: '1700000000' }), NOW), 1700000000000)
  t.equal(fieldsToTime(dateFields({ m: '3' }), NOW), null, 'a month without a day is no date')
})

t.test('given lines dated by two templates in turn, when used is read between and after, then it counts each as detect() did, in the order of first use', async (t) => {
  const d = new DateDetector()
  const lines = ['Mar  5 10:11:12 a', 'Mar  5 10:11:13 b', '2024-03-05 10:11:14 c', 'Mar  5 10:11:15 d', '2024-03-05 10:11:16 e']
  const runs: [string, number][][] = []
  for (const l of lines) {
    d.detect(l, NOW)
    runs.push([...d.used])
  }
  t.equal(runs[1]?.length, 1)
  t.same(runs[1]?.[0]?.[1], 2, 'two dates by the syslog template')
  t.same(runs[4]?.map(([, n]) => n), [3, 2], 'syslog first (first used), ISO second')
  t.same([...d.used.keys()], runs[4]?.map(([k]) => k))
})

t.test('given a line, when find() runs, then its kind and fields are what detect() returns', async (t) => {
  const a = new DateDetector()
  const b = new DateDetector()
  for (const line of ['Mar  5 10:11:12 host x', 'no date here', '2024-02-30 10:00:00 x', ' [Mar  5 10:11:13] y']) {
    const m = a.detect(line, NOW)
    const kind = b.find(line, NOW)
    t.equal(kind, m === null ? NONE : m.kind === 'date' ? DATE : m.kind === 'empty' ? EMPTY : INVALID, line)
    if (m !== null) t.same({ time: b.time, matchStart: b.matchStart, matchEnd: b.matchEnd, template: b.template }, { time: m.time, matchStart: m.matchStart, matchEnd: m.matchEnd, template: m.template })
  }
})

t.test('given day-of-month fields with leading spaces, then num reads them as Number() does', async (t) => {
  for (const v of [' 2', '  2', '12', '02', ' ', '', '  ', '\u00a02', ' 2 ', '٣', ' x']) t.same(num(v), Number(v), JSON.stringify(v))
  t.equal(num(undefined), undefined)
})

t.test('given fields prepared once, when only the seconds change, then TimeParts.finish() is fieldsToTime()', async (t) => {
  const months = ['jan', 'Feb', 'mar', 'Oct', 'dec', 'Xyz']
  const days = [' 1', '29', '30', '31', '05', '28']
  const seconds = ['00', '09', '59', '60', '61', ' 7', undefined]
  const nows = [Date.UTC(2024, 0, 1, 0, 0, 30), Date.UTC(2024, 2, 31, 0, 30), Date.UTC(2023, 11, 31, 23, 0), NOW]
  let n = 0
  for (const b of months) for (const d of days) for (const H of ['00', '02', '23']) for (const now of nows) {
    const parts = new TimeParts().prepare(dateFields({ b, d, H, M: '30', S: '00' }), now)
    for (const S of seconds) {
      const g = dateFields({ b, d, H, M: '30', S })
      t.equal(parts.finish(g), fieldsToTime(g, now), `${b} ${d} ${H}:30:${S ?? '-'} at ${new Date(now).toISOString()}`)
      n++
    }
  }
  const epoch = new TimeParts().prepare(dateFields({ s: '1700000000' }), NOW)
  t.equal(epoch.finish(dateFields({ s: '1700000000' })), 1700000000000)
  t.ok(n > 1000)
})
