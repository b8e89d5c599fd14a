// filter-test's local ISO times: the text kept per minute must be the text
// a Date gives, inside a minute, across minutes and across a DST change.
process.env['TZ'] = 'Europe/Zurich' // before any Date use
import t from 'tap'
import { isoMinute, localIso } from '../../ops/cli/local-iso.js'

const pad = (n: number, w = 2): string => String(Math.abs(n)).padStart(w, '0')
/** The plain formula, one Date per call. */
const plain = (ms: number): string => {
  const d = new Date(ms)
  const off = -d.getTimezoneOffset()
  const frac = d.getMilliseconds() === 0 ? '' : `.${pad(d.getMilliseconds(), 3)}`
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${frac}` +
    `${off < 0 ? '-' : '+'}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`
}

t.test('given times in one minute, across minutes and a DST change, then the text of a Date', async (t) => {
  t.equal(localIso(Date.UTC(2024, 2, 5, 9, 11, 12)), '2024-03-05T10:11:12+01:00')
  t.equal(localIso(Date.UTC(2024, 2, 5, 9, 11, 13, 250)), '2024-03-05T10:11:13.250+01:00', 'same minute, from the kept text')
  const wrong: string[] = []
  // 2024-03-31 01:00 UTC: Zurich goes from +01:00 to +02:00
  for (let ms = Date.UTC(2024, 2, 31, 0, 50); ms < Date.UTC(2024, 2, 31, 1, 10); ms += 7_001) {
    if (localIso(ms) !== plain(ms)) wrong.push(plain(ms))
  }
  t.same(wrong, [])
  t.equal(localIso(Date.UTC(1890, 0, 1, 12, 0, 30)), plain(Date.UTC(1890, 0, 1, 12, 0, 30)), 'local mean time, an offset with seconds')
  t.equal(localIso(1.5), plain(1.5), 'a fraction of a millisecond is dropped')
})

t.test('given times in and out of a kept minute, across a DST change and with milliseconds, when the text is built from isoMinute(), then it is localIso()', async (t) => {
  const pad = (n: number, w: number): string => String(n).padStart(w, '0')
  const wrong: string[] = []
  let kept = 0
  for (const from of [Date.UTC(2024, 2, 31, 0, 58), Date.UTC(2024, 9, 27, 0, 58), Date.UTC(1890, 0, 1, 12, 0)]) {
    for (let ms = from; ms < from + 5 * 60_000; ms += 997) {
      for (const x of [ms, ms - (ms % 1000), ms + 0.5]) {
        const m = isoMinute(x)
        if (m === null) continue // e.g. 1890, local mean time: minutes not those of UTC
        kept++
        const rest = x - m.start
        const text = `${m.head}${pad(Math.floor(rest / 1000), 2)}${rest % 1000 === 0 ? '' : `.${pad(rest % 1000, 3)}`}${m.tail}`
        if (text !== localIso(x)) wrong.push(`${x}: ${text} vs ${localIso(x)}`)
      }
    }
  }
  t.same(wrong.slice(0, 5), [])
  t.ok(kept > 500, `${kept} times from a kept minute`)
  t.equal(isoMinute(1.5), null, 'a fraction of a millisecond: no minute, localIso() formats it')
})
