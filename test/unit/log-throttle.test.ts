// Given/when/then over the log throttle that keeps floods of bad input from
// becoming floods of logs (services/log-throttle.ts).
import t from 'tap'
import { LogThrottle } from '../../services/log-throttle.js'

t.test('given a flood, when 25 arrive in one window, then 20 are logged and 5 counted at the next window', async t => {
  let now = 1_000
  const throttle = new LogThrottle(() => now)
  const held: number[] = []
  const allowed = Array.from({ length: 25 }, () => throttle.allow(n => held.push(n))).filter(Boolean).length
  t.equal(allowed, 20)
  t.same(held, [], 'nothing said before the window ends')
  now += 10_000
  t.equal(throttle.allow(n => held.push(n)), true, 'a new window logs again')
  t.same(held, [5], 'what was held back is said once')
})
