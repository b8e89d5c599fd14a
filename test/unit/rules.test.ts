// Given/when/then over the pure rules (R1-R9, DESIGN.md "The rules").
import t from 'tap'
import { makeRulesContext } from '../../ledger/rules/context.js'
import { banLength, countStanding } from '../../ledger/rules/lifecycle.js'
import { decisionsOf } from '../../ledger/rules/decisions.js'
import type { OperatorCommand } from '../../ledger/rules/types.js'
import {
  DAY, HOUR, MIN, RulesHarness, SEC, T0, failure, policy, rulesContext, success, types,
} from '../helpers/rules.js'

const IP = '203.0.113.7'
const op = (action: OperatorCommand['action'], at: number, over: Partial<OperatorCommand> = {}): OperatorCommand =>
  ({ type: 'operator', action, id: `op-${action}-${at}`, jail: 'ssh', ip: IP, at, actor: 'root', reason: 'test', ...over })

t.test('R1: maxretry failures inside findtime ban for bantime', async t => {
  const h = new RulesHarness().given(failure(IP, T0), failure(IP, T0 + MIN))
  t.notOk(h.banned(IP), 'two failures do not ban')
  const events = h.when(failure(IP, T0 + 2 * MIN))
  t.same(types(events), ['FailureRecorded', 'BanIssued'])
  const ban = events[1]
  t.match(ban, { type: 'BanIssued', reason: 'maxretry', at: T0 + 2 * MIN, until: T0 + 2 * MIN + 5 * DAY, failures: 3, repeat: 0 })
  t.same(h.states.get(`ssh/${IP}`)?.failures, [], 'the counter is cleared by the ban')
})

t.test('R2: failures older than findtime do not count, and are forgotten', async t => {
  const h = new RulesHarness().given(failure(IP, T0), failure(IP, T0 + HOUR))
  const events = h.when(failure(IP, T0 + 48 * HOUR + 1))
  t.same(types(events), ['FailureRecorded'], 'the first failure fell out of the 48h window')
  t.notOk(h.banned(IP))
  t.same(h.states.get(`ssh/${IP}`)?.failures, [T0 + HOUR, T0 + 48 * HOUR + 1], 'the stale failure is dropped')
  const forgotten = h.when({ type: 'tick', at: T0 + 96 * HOUR + 2 })
  t.same(types(forgotten), ['StateForgotten'])
  t.equal(h.states.size, 0, 'memory stays bounded: nothing is kept')
})

t.test('R2: a slow attacker inside the window is still caught', async t => {
  const h = new RulesHarness().given(failure(IP, T0), failure(IP, T0 + 20 * HOUR))
  h.when(failure(IP, T0 + 47 * HOUR))
  t.ok(h.banned(IP))
})

t.test('R3: a success resets the counter', async t => {
  const h = new RulesHarness(rulesContext({ ssh: { grace: 0 } })).given(failure(IP, T0), failure(IP, T0 + MIN))
  const events = h.when(success(IP, T0 + 2 * MIN))
  t.same(types(events), ['CounterCleared'])
  h.given(failure(IP, T0 + 3 * MIN), failure(IP, T0 + 4 * MIN))
  t.notOk(h.banned(IP), 'only two failures since the success')
})

t.test('R7: the seed scenario: typos spread over days of good logins never ban', async t => {
  // succeed, fail a few times inside the window, succeed again just before it
  // ends, fail just after: no ban.
  const h = new RulesHarness()
  h.when(success(IP, T0))
  h.given(failure(IP, T0 + HOUR), failure(IP, T0 + 10 * HOUR), failure(IP, T0 + 30 * HOUR))
  h.when(success(IP, T0 + 48 * HOUR - SEC))
  const events = h.when(failure(IP, T0 + 48 * HOUR + SEC))
  t.match(events, [{ type: 'FailureRecorded', outcome: 'absorbed' }])
  t.notOk(h.banned(IP))
  t.notOk(h.history.some(e => e.type === 'BanIssued'), 'no ban at any point')
})

t.test('R7: failures inside a grace window are recorded but do not ban', async t => {
  const h = new RulesHarness().given(success(IP, T0))
  for (let i = 1; i <= 5; i++) t.match(h.when(failure(IP, T0 + i * MIN)), [{ outcome: 'absorbed' }])
  t.notOk(h.banned(IP))
})

t.test('R7: the grace window closes after grace, and is refreshed by each success', async t => {
  const h = new RulesHarness(rulesContext({ ssh: { grace: HOUR } })).given(success(IP, T0))
  h.when(success(IP, T0 + 50 * MIN))
  t.match(h.when(failure(IP, T0 + 100 * MIN)), [{ outcome: 'absorbed' }], 'still inside the refreshed window')
  t.match(h.when(failure(IP, T0 + 111 * MIN)), [{ outcome: 'counted' }], 'the window closed at 50min + 1h')
})

t.test('grace_max_failures: a grace window absorbs a bounded number of failures', async t => {
  // An attacker who knows one account must not be able to guess others for ever.
  const h = new RulesHarness(rulesContext({ ssh: { graceMaxFailures: 2 } })).given(success(IP, T0))
  t.match(h.when(failure(IP, T0 + 1 * MIN)), [{ outcome: 'absorbed' }])
  t.match(h.when(failure(IP, T0 + 2 * MIN)), [{ outcome: 'absorbed' }])
  h.given(failure(IP, T0 + 3 * MIN), failure(IP, T0 + 4 * MIN))
  const events = h.when(failure(IP, T0 + 5 * MIN))
  t.same(types(events), ['FailureRecorded', 'BanIssued'], 'failures count again after the allowance')
})

t.test('R8: a success lifts a current ban, in every jail that allows it', async t => {
  const ctx = rulesContext({ ssh: {}, mail: {}, web: { successLiftsBan: false } })
  const h = new RulesHarness(ctx)
  for (const jail of ['ssh', 'mail', 'web']) {
    h.given(failure(IP, T0, { jail }), failure(IP, T0 + 1, { jail }), failure(IP, T0 + 2, { jail }))
  }
  t.ok(h.banned(IP, 'ssh') && h.banned(IP, 'mail') && h.banned(IP, 'web'))
  const events = h.when(success(IP, T0 + HOUR, { jail: 'mail', host: 'b' }))
  t.match(events.filter(e => e.type === 'BanLifted'), [
    { jail: 'ssh', reason: 'success' },
    { jail: 'mail', reason: 'success' },
  ])
  t.notOk(h.banned(IP, 'ssh'))
  t.notOk(h.banned(IP, 'mail'))
  t.ok(h.banned(IP, 'web'), 'success_lifts_ban: false keeps that jail\'s ban')
})

t.test('R8 configurable: success_lifts_ban false keeps the ban but opens grace', async t => {
  const h = new RulesHarness(rulesContext({ ssh: { successLiftsBan: false } }))
    .given(failure(IP, T0), failure(IP, T0 + 1), failure(IP, T0 + 2))
  const events = h.when(success(IP, T0 + HOUR))
  t.same(types(events), ['GraceOpened'])
  t.ok(h.banned(IP))
})

t.test('R9: ignored addresses and ranges are never banned, IPv4 and IPv6', async t => {
  const ctx = rulesContext({ ssh: {} }, ['127.0.0.1/8', '192.168.1.0/24', '2001:db8:aa::/48', '::1'], ['198.51.100.1'])
  for (const ip of ['127.0.0.5', '192.168.1.200', '2001:db8:aa:1::9', '::1', '198.51.100.1']) {
    const h = new RulesHarness(ctx)
    for (let i = 0; i < 5; i++) t.match(h.when(failure(ip, T0 + i)), [{ outcome: 'ignored' }], ip)
    t.notOk(h.banned(ip), `${ip} is never banned`)
    t.match(h.when(op('ban', T0 + 10, { ip })), [{ type: 'NoEffect' }], `operator cannot ban ${ip}`)
  }
  const h = new RulesHarness(ctx).given(failure('192.168.2.1', T0), failure('192.168.2.1', T0 + 1), failure('192.168.2.1', T0 + 2))
  t.ok(h.banned('192.168.2.1'), 'outside the range bans')
})

t.test('R9: a jail\'s own ignore list spares an address in that jail only', async t => {
  const ctx = makeRulesContext([
    { name: 'ssh', policy: policy(), ignoreip: ['198.51.100.0/24', '2001:db8:bb::7'] },
    { name: 'web', policy: policy(), ignoreip: [] },
  ], ['127.0.0.1/8'], [], policy())
  for (const ip of ['198.51.100.9', '2001:db8:bb::7']) {
    const h = new RulesHarness(ctx)
    for (let i = 0; i < 5; i++) t.match(h.when(failure(ip, T0 + i)), [{ outcome: 'ignored' }], `${ip} in ssh`)
    t.notOk(h.banned(ip), `${ip} is never banned in ssh`)
    h.given(...[0, 1, 2].map(i => failure(ip, T0 + i, { jail: 'web' })))
    t.ok(h.states.get(`web/${ip}`)?.ban, `${ip} is banned in web, which has no ignore list`)
  }
  t.ok(ctx.isIgnored('web', '127.0.0.9'), 'the global list holds in a jail without a list of its own')
})

t.test('failures from different hosts for the same address count together', async t => {
  const h = new RulesHarness().given(failure(IP, T0, { host: 'a' }), failure(IP, T0 + 1, { host: 'b' }))
  t.same(types(h.when(failure(IP, T0 + 2, { host: 'c' }))), ['FailureRecorded', 'BanIssued'])
})

t.test('while banned, failures are recorded and change nothing', async t => {
  const h = new RulesHarness().given(failure(IP, T0), failure(IP, T0 + 1), failure(IP, T0 + 2))
  t.match(h.when(failure(IP, T0 + HOUR)), [{ outcome: 'while-banned' }])
  t.same(h.states.get(`ssh/${IP}`)?.failures, [])
})

t.test('expiry: a tick ends bans whose time passed, with the ban\'s own end time', async t => {
  const h = new RulesHarness().given(failure(IP, T0), failure(IP, T0 + 1), failure(IP, T0 + 2))
  t.same(h.when({ type: 'tick', at: T0 + DAY }), [], 'nothing due yet')
  const events = h.when({ type: 'tick', at: T0 + 6 * DAY })
  t.match(events, [{ type: 'BanExpired', at: T0 + 2 + 5 * DAY }, { type: 'StateForgotten' }])
  t.same(decisionsOf({ seq: 9, at: T0 + 6 * DAY, cause: { type: 'tick', at: T0 + 6 * DAY }, events }),
    [{ id: '9.0', type: 'unban', jail: 'ssh', ip: IP, at: T0 + 2 + 5 * DAY, until: 0, reason: 'expired', seq: 9, failures: 0 }])
})

t.test('expiry: a failure after the ban ended first expires it, then counts', async t => {
  const h = new RulesHarness().given(failure(IP, T0), failure(IP, T0 + 1), failure(IP, T0 + 2))
  const events = h.when(failure(IP, T0 + 6 * DAY))
  t.match(events, [{ type: 'BanExpired' }, { type: 'FailureRecorded', outcome: 'counted' }])
})

t.test('bantime_increment: repeat offenders get longer bans, capped', async t => {
  const p = { increment: { factor: 2, max: 12 * DAY } }
  t.equal(banLength(policy(p), 0), 5 * DAY)
  t.equal(banLength(policy(p), 1), 10 * DAY)
  t.equal(banLength(policy(p), 2), 12 * DAY, 'capped at max')
  t.equal(banLength(policy(p), 5000), 12 * DAY, 'no overflow')
  const h = new RulesHarness(rulesContext({ ssh: p }))
  let at = T0
  const lengths: number[] = []
  for (let round = 0; round < 3; round++) {
    h.given(failure(IP, at), failure(IP, at + 1))
    const ban = h.when(failure(IP, at + 2)).find(e => e.type === 'BanIssued')
    if (ban?.type !== 'BanIssued') throw new Error('no ban')
    lengths.push(ban.until - ban.at)
    at = ban.until + HOUR
  }
  t.same(lengths, [5 * DAY, 10 * DAY, 12 * DAY])
})

t.test('bantime_increment off: the state is forgotten once the ban ends', async t => {
  const h = new RulesHarness().given(failure(IP, T0), failure(IP, T0 + 1), failure(IP, T0 + 2))
  h.when({ type: 'tick', at: T0 + 6 * DAY })
  t.equal(h.states.size, 0)
})

t.test('operator: ban, unban and pardon, idempotent (R13)', async t => {
  const h = new RulesHarness()
  t.match(h.when(op('ban', T0)), [{ type: 'BanIssued', reason: 'operator', until: T0 + 5 * DAY }])
  t.match(h.when(op('ban', T0 + 1)), [{ type: 'NoEffect', why: 'already banned' }], 'banning a banned address is a no-op')
  t.match(h.when(op('unban', T0 + 2)), [{ type: 'BanLifted', reason: 'operator' }])
  t.match(h.when(op('unban', T0 + 3)), [{ type: 'NoEffect', why: 'not banned' }], 'unbanning a free address is a no-op')
  t.match(h.when(op('ban', T0 + 4, { duration: HOUR })), [{ type: 'BanIssued', until: T0 + 4 + HOUR }], 'explicit duration')
  h.given(op('unban', T0 + 5), failure(IP, T0 + 6), failure(IP, T0 + 7))
  t.same(types(h.when(op('pardon', T0 + 8))), ['CounterCleared', 'GraceOpened'])
  t.match(h.when(failure(IP, T0 + 9)), [{ outcome: 'absorbed' }], 'pardon opened a grace window')
  t.match(h.when(op('ban', T0, { jail: 'nope' })), [{ type: 'NoEffect', why: 'unknown jail' }])
})

t.test('R11 import: keeps the original ban time, skips expired ones', async t => {
  const h = new RulesHarness()
  const now = T0 + 10 * DAY
  const imp = (ip: string, bannedAt: number) => ({ type: 'import' as const, id: `imp-${ip}`, jail: 'ssh', ip, bannedAt, at: now, source: 'denyhosts' })
  t.match(h.when(imp('198.51.100.3', now - DAY)), [{ type: 'BanIssued', reason: 'import', at: now - DAY, until: now + 4 * DAY }])
  t.match(h.when(imp('198.51.100.4', now - 6 * DAY)), [{ type: 'NoEffect', why: 'expired' }])
  t.match(h.when(imp('198.51.100.3', now - DAY)), [{ type: 'NoEffect', why: 'already banned' }])
  t.match(h.when(imp('127.0.0.1', now - DAY)), [{ type: 'NoEffect' }])
})

t.test('out-of-order events (several hosts) count by their own time', async t => {
  const h = new RulesHarness().given(failure(IP, T0 + 2 * HOUR), failure(IP, T0))
  t.same(h.states.get(`ssh/${IP}`)?.failures, [T0, T0 + 2 * HOUR], 'kept in time order')
  t.same(types(h.when(failure(IP, T0 + HOUR))), ['FailureRecorded', 'BanIssued'])
})

t.test('decisions carry the ledger sequence and deterministic ids', async t => {
  const h = new RulesHarness().given(failure(IP, T0), failure(IP, T0 + 1))
  const events = h.when(failure(IP, T0 + 2))
  t.same(decisionsOf({ seq: 42, at: T0 + 2, cause: failure(IP, T0 + 2), events }), [{
    id: '42.1', type: 'ban', jail: 'ssh', ip: IP, at: T0 + 2, until: T0 + 2 + 5 * DAY, reason: 'maxretry', seq: 42, failures: 3,
  }])
})

t.test('status: where each address stands at a time (banned, failing, in grace, tracked)', async t => {
  const [A, B, C, D] = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']
  const h = new RulesHarness().given(
    failure(A, T0), failure(A, T0 + MIN), failure(A, T0 + 2 * MIN), // banned for 5 days
    failure(B, T0), // one counted failure
    success(C, T0), failure(C, T0 + MIN), // grace (48h), the failure absorbed
    failure(D, T0 - 46 * HOUR - 30 * MIN), // a counted failure about to leave the window
  )
  const standing = (at: number) => {
    const counts = { jail: 'ssh', tracked: 0, banned: 0, failing: 0, grace: 0 }
    for (const s of h.states.values()) countStanding(counts, s, policy(), at)
    return counts
  }
  t.same(standing(T0 + HOUR), { jail: 'ssh', tracked: 4, banned: 1, failing: 2, grace: 1 }, 'A banned; B and D failing; C in grace')
  t.same(standing(T0 + 2 * HOUR), { jail: 'ssh', tracked: 4, banned: 1, failing: 1, grace: 1 }, "D's failure left findtime: tracked, not failing")
  t.same(standing(T0 + 3 * DAY), { jail: 'ssh', tracked: 4, banned: 1, failing: 0, grace: 0 }, 'the grace window closed')
  t.same(standing(T0 + 6 * DAY), { jail: 'ssh', tracked: 4, banned: 0, failing: 0, grace: 0 }, 'a ban past its end is not in force, tick or not')
})
