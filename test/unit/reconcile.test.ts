// Given the bans in force and what the kernel holds, reconcile computes
// exactly the difference (R12, R13).
import t from 'tap'
import { reconcile, TIMEOUT_TOLERANCE } from '../../services/firewall/reconcile.js'
import { HOUR, T0 } from '../helpers/rules.js'

const ban = (ip: string, until: number, jail = 'ssh') => ({ jail, ip, until })
const kernel = (ip: string, expiresIn: number | null, jail = 'ssh') => ({ jail, ip, expiresIn })

t.test('given an empty kernel, every ban in force is added with its remaining time', async t => {
  const r = reconcile([ban('192.0.2.1', T0 + HOUR), ban('2001:db8::1', T0 + 2 * HOUR, 'web')], [], T0)
  t.same(r.add, [{ jail: 'ssh', ip: '192.0.2.1', timeout: HOUR }, { jail: 'web', ip: '2001:db8::1', timeout: 2 * HOUR }])
  t.same(r.del, [])
  t.same(r.drift, { missing: 2, stale: 0, retimed: 0 })
})

t.test('given a kernel in sync, nothing changes (idempotent)', async t => {
  const r = reconcile([ban('192.0.2.1', T0 + HOUR)], [kernel('192.0.2.1', HOUR - 1000)], T0)
  t.same([r.add, r.del], [[], []])
  const noTimeouts = reconcile([ban('192.0.2.1', T0 + HOUR)], [kernel('192.0.2.1', null)], T0)
  t.same([noTimeouts.add, noTimeouts.del], [[], []], 'iptables has no timeouts to compare')
})

t.test('stale kernel entries are deleted; expired bans are not added', async t => {
  const r = reconcile([ban('192.0.2.1', T0 - 1)], [kernel('192.0.2.9', HOUR), kernel('192.0.2.1', 5)], T0)
  t.same(r.add, [])
  t.same(r.del, [{ jail: 'ssh', ip: '192.0.2.9' }, { jail: 'ssh', ip: '192.0.2.1' }])
})

t.test('the same address in another jail is another ban', async t => {
  const r = reconcile([ban('192.0.2.1', T0 + HOUR, 'web')], [kernel('192.0.2.1', HOUR, 'ssh')], T0)
  t.same(r.add, [{ jail: 'web', ip: '192.0.2.1', timeout: HOUR }])
  t.same(r.del, [{ jail: 'ssh', ip: '192.0.2.1' }])
})

t.test('a timeout off by more than the tolerance is set again', async t => {
  const r = reconcile([ban('192.0.2.1', T0 + 5 * HOUR)], [kernel('192.0.2.1', HOUR)], T0)
  t.same(r.add, [{ jail: 'ssh', ip: '192.0.2.1', timeout: 5 * HOUR, retime: true }])
  t.equal(r.drift.retimed, 1)
  const close = reconcile([ban('192.0.2.1', T0 + HOUR)], [kernel('192.0.2.1', HOUR - TIMEOUT_TOLERANCE + 1)], T0)
  t.same(close.add, [])
})
