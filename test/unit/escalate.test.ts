// IPv6 /64 escalation: N banned addresses of one /64 in a jail become one
// ban of the /64; off by default, never over a protected address.
import t from 'tap'
import { checkIp, v6NetOf } from '../../services/firewall/backends/validate.js'
import { escalate, netProtectionCheck, type Escalation } from '../../services/firewall/escalate.js'
import { HOUR, T0 } from '../helpers/rules.js'

const ban = (ip: string, until = T0 + HOUR, jail = 'ssh') => ({ jail, ip, until })
const open = (threshold: number): Escalation => ({ threshold, protection: () => null })
const sorted = (bans: readonly { jail: string; ip: string; until: number }[]) =>
  bans.map(b => `${b.jail} ${b.ip} ${b.until - T0}`).sort()

t.test('off (null) by default: the bans as they are', async t => {
  const bans = [ban('2001:db8:1:2::1'), ban('2001:db8:1:2::2'), ban('2001:db8:1:2::3')]
  t.same(escalate(bans, null), bans)
})

t.test('below the threshold nothing changes; at it, one /64 with the latest until', async t => {
  const two = [ban('2001:db8:1:2::1'), ban('2001:db8:1:2::2', T0 + 3 * HOUR)]
  t.same(sorted(escalate(two, open(3))), sorted(two))
  const three = [...two, ban('2001:db8:1:2:ffff:ffff:ffff:ffff', T0 + 2 * HOUR)]
  t.same(escalate(three, open(3)), [ban('2001:db8:1:2::/64', T0 + 3 * HOUR)])
})

t.test('two /64s are counted apart, and so are jails; IPv4 is untouched', async t => {
  const bans = [
    ban('2001:db8:1:2::1'), ban('2001:db8:1:2::2'),
    ban('2001:db8:1:3::1'), ban('2001:db8:1:3::2'),
    ban('2001:db8:1:4::1'), ban('2001:db8:1:4::2', T0 + HOUR, 'web'),
    ban('192.0.2.1'), ban('192.0.2.2'), ban('192.0.2.3'),
  ]
  t.same(sorted(escalate(bans, open(2))), sorted([
    ban('2001:db8:1:2::/64'), ban('2001:db8:1:3::/64'),
    ban('2001:db8:1:4::1'), ban('2001:db8:1:4::2', T0 + HOUR, 'web'),
    ban('192.0.2.1'), ban('192.0.2.2'), ban('192.0.2.3'),
  ]))
})

t.test('a /64 the protection refuses is never escalated', async t => {
  const bans = [ban('2001:db8:1:2::1'), ban('2001:db8:1:2::2'), ban('2001:db8:1:3::1'), ban('2001:db8:1:3::2')]
  const protection = netProtectionCheck(['127.0.0.1/8', '::1', '2001:db8:1:2::99'], new Map())
  t.same(sorted(escalate(bans, { threshold: 2, protection })), sorted([...bans.slice(0, 2), ban('2001:db8:1:3::/64')]))
})

t.test('netProtectionCheck: any overlap of an address or a range, global or per jail', async t => {
  const check = netProtectionCheck(['2001:db8:a::/48', '2001:db8:b:1:2::/80', '192.0.2.0/24', 'fe80::1'], new Map([['web', ['2001:db8:c:1::7']]]))
  t.not(check('ssh', '2001:db8:a:5::/64'), null, 'inside a /48')
  t.not(check('ssh', '2001:db8:b:1::/64'), null, 'holds a /80')
  t.not(check('ssh', 'fe80::/64'), null, 'holds an address (this host, a gateway)')
  t.equal(check('ssh', '2001:db8:b:2::/64'), null)
  t.equal(check('ssh', '2001:db8:c:1::/64'), null, 'another jail\'s ignoreip')
  t.not(check('web', '2001:db8:c:1::/64'), null, 'this jail\'s ignoreip')
  t.not(netProtectionCheck(['2001:db8::/32'], new Map())('ssh', '2001:db8:1:2::/64'), null)
  t.not(netProtectionCheck(['::/0'], new Map())('ssh', '2001:db8:1:2::/64'), null)
  t.not(netProtectionCheck(['not an address'], new Map())('ssh', '2001:db8:1:2::/64'), null, 'unreadable: refuse')
})

t.test('v6NetOf and checkIp: only canonical IPv6 /64s besides addresses', async t => {
  t.equal(v6NetOf('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64')
  t.equal(v6NetOf('2001:db8::1'), '2001:db8::/64')
  t.equal(v6NetOf('192.0.2.1'), null)
  t.equal(v6NetOf('::1'), null, 'never ::/64')
  t.same(checkIp('2001:db8:1:2::/64'), { v6: true, net: true })
  t.same(checkIp('2001:db8::1'), { v6: true, net: false })
  for (const bad of ['2001:db8:1:2::/48', '2001:db8:1:2::/128', '2001:db8:1:2::1/64', '2001:DB8:1:2::/64', '2001:db8:1:2:0:0:0:0/64',
    '192.0.2.0/24', '192.0.2.0/64', '::/0', '::/64', '2001:db8:1:2::/064', '2001:db8:1:2::/64 ', '::ffff:0:0/64', '2001:db8:1:2::/64;x']) {
    t.throws(() => checkIp(bad), TypeError, bad)
  }
})
