// The firewall worker against real nftables in a namespace: bursts of
// concurrent decisions end with the kernel equal to the projection, and
// protected addresses never reach it.
import pino from 'pino'
import t from 'tap'
import type { Decision } from '../../ledger/rules/types.js'
import { nftablesBackend } from '../../services/firewall/backends/nftables.js'
import { netnsRunner } from '../../services/firewall/command-runner.js'
import { FirewallWorker } from '../../services/firewall/firewall-worker.js'
import type { DesiredBan } from '../../services/firewall/reconcile.js'
import { hasNetnsCapability, withNetns } from '../helpers/netns.js'
import { waitFor } from '../helpers/wait-for.js'

const missing = await hasNetnsCapability(['nft'])
if (missing !== null && process.env['CI'] === 'true') throw new Error(`CI must run the firewall worker tests, but: ${missing}`)
const when = missing === null ? {} : { skip: missing }

const HOUR = 3_600_000
const decision = (type: 'ban' | 'unban', ip: string, now: number, i: number): Decision => ({
  id: `${i}.0`, type, jail: 'ssh', ip, at: now, until: type === 'ban' ? now + HOUR : 0,
  reason: type === 'ban' ? 'maxretry' : 'operator', seq: i, failures: 3,
})

t.test('1,000 concurrent ban/unban decisions: no command error, kernel = projection', when, async t => {
  const ns = await withNetns(t, 'burst')
  const backend = nftablesBackend({ run: netnsRunner(ns) })
  const projection = new Map<string, DesiredBan>()
  const errors: string[] = []
  const logger = pino({ level: 'warn' }, { write: (line: string) => { errors.push(line) } })
  const worker = new FirewallWorker({
    backend, jails: [{ name: 'ssh', ports: [22], protocol: 'tcp' }],
    snapshot: async () => [...projection.values()],
    protection: (_jail, ip) => (ip === '198.51.100.200' ? 'it is a default gateway of this host' : null),
    checkInterval: 0, logger, now: Date.now,
  })
  t.teardown(() => worker.close())
  await worker.start()
  const now = Date.now()
  // 1,000 decisions over 250 addresses, in 100 concurrent calls: each
  // address is banned, unbanned, banned, and sometimes unbanned again.
  const all: Decision[] = []
  for (let i = 0; i < 1000; i++) {
    const ip = i % 2 === 0 ? `198.51.100.${i % 250}` : `2001:db8::${(i % 250).toString(16)}`
    const type = Math.floor(i / 250) % 2 === 0 ? 'ban' : 'unban'
    all.push(decision(type, ip, now, i + 1))
  }
  const last = new Map<string, Decision>()
  for (const d of all) last.set(d.ip, d)
  for (const d of last.values()) {
    if (d.type === 'ban' && d.ip !== '198.51.100.200') projection.set(d.ip, { jail: 'ssh', ip: d.ip, until: d.until })
  }
  await Promise.all(Array.from({ length: 100 }, (_, k) => Promise.resolve().then(() => worker.onDecisions(all.slice(k * 10, k * 10 + 10)))))
  const expected = [...projection.keys()].sort()
  const kernel = await waitFor(async () => {
    const ips = (await backend.list()).map(b => b.ip).sort()
    return JSON.stringify(ips) === JSON.stringify(expected) ? ips : null
  }, { timeout: 15_000, what: 'the kernel to equal the projection' })
  t.equal(kernel.length, expected.length)
  t.same(errors.filter(e => !e.includes('refusing to ban 198.51.100.200')), [], 'no command error')
  t.match(errors.join(''), /refusing to ban 198\.51\.100\.200 in ssh: it is a default gateway/, 'a protected address is refused and logged')
  const report = await worker.check('check')
  t.same([report.missing, report.stale, report.retimed], [0, 0, 0], 'a check after the burst finds nothing to repair')
})

t.test('IPv6 /64 escalation: 3 addresses of one /64 become the /64, an unban below the threshold undoes it', when, async t => {
  const ns = await withNetns(t, 'esc')
  const backend = nftablesBackend({ run: netnsRunner(ns) })
  const projection = new Map<string, DesiredBan>()
  const logger = pino({ level: 'silent' })
  const worker = new FirewallWorker({
    backend, jails: [{ name: 'ssh', ports: [22], protocol: 'tcp' }],
    snapshot: async () => [...projection.values()],
    protection: () => null,
    escalation: { threshold: 3, protection: () => null },
    checkInterval: 0, logger, now: Date.now,
  })
  t.teardown(() => worker.close())
  await worker.start()
  const now = Date.now()
  const kernelIs = (want: string[], what: string) => waitFor(async () => {
    const ips = (await backend.list()).map(b => b.ip).sort()
    return JSON.stringify(ips) === JSON.stringify([...want].sort()) ? ips : null
  }, { timeout: 10_000, what })
  const ips = ['2001:db8:1:2::a', '2001:db8:1:2::b', '2001:db8:1:2::c']
  const ban = (ip: string, i: number): Decision => {
    const d = decision('ban', ip, now, i)
    projection.set(ip, { jail: 'ssh', ip, until: d.until })
    return d
  }
  worker.onDecisions([ban(ips[0]!, 1), ban(ips[1]!, 2), ban('198.51.100.9', 3)])
  await kernelIs([ips[0]!, ips[1]!, '198.51.100.9'], 'two addresses: below the threshold')
  worker.onDecisions([ban(ips[2]!, 4)])
  await kernelIs(['2001:db8:1:2::/64', '198.51.100.9'], 'the /64 instead of its three addresses')
  const held = (await backend.list()).find(b => b.ip === '2001:db8:1:2::/64')
  t.ok(held?.expiresIn != null && held.expiresIn > HOUR - 60_000, 'the /64 lasts as long as its bans')
  t.same(await worker.check('check'), { missing: 0, stale: 0, retimed: 0, refused: 0, inForce: 4 }, 'a check agrees')
  projection.delete(ips[1]!)
  worker.onDecisions([decision('unban', ips[1]!, now, 5)])
  await kernelIs([ips[0]!, ips[2]!, '198.51.100.9'], 'back to the addresses below the threshold')
  t.pass('escalated and back')
})
