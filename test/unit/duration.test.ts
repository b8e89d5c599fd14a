import t from 'tap'
import { formatDuration, MAX_DURATION, parseDuration, tryParseDuration } from '../../ops/config/duration.js'

const S = 1000
const M = 60 * S
const H = 60 * M
const D = 24 * H
const W = 7 * D

t.test('single units', async (t) => {
  t.equal(parseDuration('250ms'), 250)
  t.equal(parseDuration('30s'), 30 * S)
  t.equal(parseDuration('10m'), 10 * M)
  t.equal(parseDuration('48h'), 48 * H)
  t.equal(parseDuration('5d'), 5 * D)
  t.equal(parseDuration('1w'), W)
  t.equal(parseDuration('1.5h'), 90 * M)
  t.equal(parseDuration(' 5 days '), 5 * D, 'long unit names and surrounding blanks')
  t.equal(parseDuration('2 hours'), 2 * H)
  t.equal(parseDuration('10min'), 10 * M)
})

t.test('combined units, largest first', async (t) => {
  t.equal(parseDuration('1h30m'), 90 * M)
  t.equal(parseDuration('1d 12h'), 36 * H)
  t.equal(parseDuration('1w2d3h4m5s6ms'), W + 2 * D + 3 * H + 4 * M + 5 * S + 6)
  for (const text of ['30m1h', '1h1h', '1s1m']) {
    const result = tryParseDuration(text)
    t.equal(result.ok, false, text)
    if (!result.ok) t.match(result.message, /largest first/, text)
  }
})

t.test('plain numbers are seconds', async (t) => {
  t.equal(parseDuration(3600), H, 'a YAML number')
  t.equal(parseDuration('3600'), H, 'a digit string')
  t.equal(parseDuration(0.25), 250, 'a fraction of a second')
  t.equal(parseDuration('1.5'), 1500)
})

t.test('zero only when allowed', async (t) => {
  t.match(tryParseDuration(0), { ok: false, message: /longer than zero/ })
  t.match(tryParseDuration('0s'), { ok: false, message: /longer than zero/ })
  t.equal(parseDuration(0, { allowZero: true }), 0)
  t.equal(parseDuration('0h', { allowZero: true }), 0)
})

t.test('negatives, garbage and overflow are refused', async (t) => {
  t.match(tryParseDuration(-5), { ok: false, message: /negative/ })
  t.match(tryParseDuration('-5m'), { ok: false, message: /negative/ })
  t.match(tryParseDuration('-10'), { ok: false, message: /negative/ })
  for (const bad of ['', '   ', 'abc', '5x', 'h', '1h30', '1 h 30', '1e3', '+5m', '5M', '1h-30m', 'NaN', '5.m', '.5h']) {
    const result = tryParseDuration(bad)
    t.equal(result.ok, false, JSON.stringify(bad))
  }
  t.match(tryParseDuration('5x'), { ok: false, message: /unknown unit "x"/ })
  for (const bad of [null, undefined, true, [], {}, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.match(tryParseDuration(bad), { ok: false, message: /expected a duration like/ }, String(bad))
  }
  t.match(tryParseDuration('101y'), { ok: false })
  t.match(tryParseDuration('36526d'), { ok: false, message: /at most 36525d/ })
  t.match(tryParseDuration('99999999999999999999999w'), { ok: false, message: /at most/ })
  t.match(tryParseDuration(1e300), { ok: false, message: /at most/ })
  t.match(tryParseDuration('1'.repeat(100) + 's'), { ok: false })
  t.equal(parseDuration('36525d'), MAX_DURATION, 'the maximum itself is accepted')
  t.match(tryParseDuration('0.0001s'), { ok: false, message: /millisecond/ })
  t.match(tryParseDuration(0.0001), { ok: false, message: /millisecond/ })
})

t.test('parseDuration throws a RangeError naming the value', async (t) => {
  t.throws(() => parseDuration('soon'), { name: 'RangeError', message: /got "soon"/ })
})

t.test('formatDuration', async (t) => {
  t.equal(formatDuration(0), '0s')
  t.equal(formatDuration(250), '250ms')
  t.equal(formatDuration(30 * S), '30s')
  t.equal(formatDuration(90 * M), '1h30m')
  t.equal(formatDuration(48 * H), '2d')
  t.equal(formatDuration(5 * D), '5d')
  t.equal(formatDuration(2 * W), '2w', 'weeks when exact')
  t.equal(formatDuration(30 * D), '30d', 'no mixed weeks and days')
  t.equal(formatDuration(D + 1), '1d1ms')
  for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(() => formatDuration(bad), TypeError, String(bad))
  }
})

t.test('formatDuration reads back through parseDuration', async (t) => {
  for (const ms of [1, 999, S, 61 * S, H + 1, D - 1, W, 3 * W + 1, 30 * D, MAX_DURATION]) {
    t.equal(parseDuration(formatDuration(ms)), ms, String(ms))
  }
})
