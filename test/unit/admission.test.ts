// Given/when/then over the times the ledger trusts from other hosts
// (ledger/rules/admission.ts; issue 4, "a watcher on a host whose clock is skewed").
import t from 'tap'
import { admit, EARLIEST_PLAUSIBLE } from '../../ledger/rules/admission.js'
import type { LogEvent } from '../../ledger/rules/types.js'
import { DAY, MIN, SEC, T0 } from '../helpers/rules.js'

const SKEW = 5 * MIN
const event = (at: number, receivedAt?: number): LogEvent => ({
  type: 'log', kind: 'failure', id: `e-${at}`, jail: 'ssh', ip: '203.0.113.7', at, host: 'web1', source: '/var/log/auth.log',
  ...(receivedAt === undefined ? {} : { receivedAt }),
})

t.test('given clocks within the bound, when an event arrives, then its time is taken as written', async t => {
  const e = event(T0 - 2 * SEC, T0 + 4 * MIN)
  t.same(admit(e, T0, SKEW), { ok: true, input: e, corrected: 0 })
})

t.test('given a backlog (NATS was down), when old events arrive, then nothing is corrected', async t => {
  const e = event(T0 - 3 * 3_600_000, T0 - 3 * 3_600_000 + 10)
  t.same(admit(e, T0, SKEW), { ok: true, input: e, corrected: 0 })
})

t.test('given a watcher whose clock runs 1h ahead, when it sends an event, then its time moves back by that lead', async t => {
  const lead = 3_600_000
  const a = admit(event(T0 + lead - 5 * SEC, T0 + lead), T0, SKEW)
  t.match(a, { ok: true, input: { at: T0 - 5 * SEC }, corrected: lead })
})

t.test('given a log time ahead of the ledger beyond the bound, when the receive time is sane, then the ledger time is used', async t => {
  const a = admit(event(T0 + 2 * 3_600_000, T0), T0, SKEW)
  t.match(a, { ok: true, input: { at: T0 }, corrected: 2 * 3_600_000 })
})

t.test('given an absurd time, when it arrives, then it is refused with the reason', async t => {
  for (const at of [0, EARLIEST_PLAUSIBLE - 1, T0 + 400 * DAY, Number.MAX_SAFE_INTEGER]) {
    const a = admit(event(at), T0, SKEW)
    t.equal(a.ok, false, `at ${at}`)
    if (!a.ok) t.match(a.why, /not a plausible time/)
  }
})

t.test('given an operator command, when its time is ahead beyond the bound, then the ledger time is used', async t => {
  const a = admit({ type: 'operator', action: 'ban', id: 'op-1', jail: 'ssh', ip: '203.0.113.7', at: T0 + DAY, actor: 'root@web2', reason: 'x' }, T0, SKEW)
  t.match(a, { ok: true, input: { at: T0 }, corrected: DAY })
})
