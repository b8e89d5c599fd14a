// One contract suite for the firewall port (R12, R13), run against every
// backend, each test in a fresh network namespace: never the host's firewall.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import type { BackendName, BanAdd, BanKey, FirewallBackend, KernelBan } from '../../services/firewall/backend.js'
import { type CommandRunner, netnsRunner } from '../../services/firewall/command-runner.js'
import { createBackend } from '../../services/firewall/backends/create-backend.js'
import { dryRunBackend } from '../../services/firewall/backends/dry-run.js'
import { ipsetBackend } from '../../services/firewall/backends/ipset.js'
import { iptablesBackend } from '../../services/firewall/backends/iptables.js'
import { nftablesBackend } from '../../services/firewall/backends/nftables.js'
import { namespacesMade, requireNetns, withNetns } from '../helpers/netns.js'
import { waitFor } from '../helpers/wait-for.js'

const exec = promisify(execFile)
const HOUR = 3_600_000
const SSH = { name: 'ssh', ports: [22, 443], protocol: 'tcp' } as const
const WEB = { name: 'web-1', ports: [], protocol: 'tcp' } as const
const JAILS = [SSH, WEB]

type Subject = Readonly<{
  name: BackendName
  /** Commands the namespace must have; none: no kernel involved. */
  tools: readonly string[]
  timeouts: boolean
  make: (run: CommandRunner) => FirewallBackend
  /** Our state in the kernel, as text without counters or random ids. */
  dump: (run: CommandRunner) => Promise<string>
  /** What an outsider might do: remove our table / chains / sets. */
  wreck: (run: CommandRunner) => Promise<void>
}>

const out = async (run: CommandRunner, cmd: string, ...args: string[]) => (await run(cmd, args)).stdout
const iptablesDump = async (run: CommandRunner) => (await out(run, 'iptables', '-w', '-S')) + (await out(run, 'ip6tables', '-w', '-S'))
const iptablesWreck = async (run: CommandRunner) => {
  for (const cmd of ['iptables', 'ip6tables']) {
    await run(cmd, ['-w', '-F'])
    await run(cmd, ['-w', '-X'])
  }
}

function recorder(inner?: CommandRunner): { run: CommandRunner; calls: string[][] } {
  const calls: string[][] = []
  const run: CommandRunner = async (cmd, args, stdin) => {
    calls.push([cmd, ...args])
    if (inner === undefined) throw new Error(`no command may run here: ${cmd}`)
    return inner(cmd, args, stdin)
  }
  return { run, calls }
}

const keys = (bans: readonly KernelBan[]) => bans.map(b => `${b.jail} ${b.ip}`).sort()

/** A small deterministic PRNG (mulberry32), so a failing burst can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** 600 documentation addresses, v4 and v6. */
const POOL = Array.from({ length: 600 }, (_, i) =>
  i < 250 ? `198.51.100.${i + 1}` : i < 500 ? `203.0.113.${i - 249}` : `2001:db8::${(i - 499).toString(16)}`)

function contract(s: Subject): void {
  t.test(`${s.name} backend`, async t => {
    if (s.tools.length > 0 && !(await requireNetns(t, s.tools))) return

    async function setup(t: Test): Promise<{ b: FirewallBackend; run: CommandRunner }> {
      const run = s.tools.length === 0 ? recorder().run : netnsRunner(await withNetns(t, s.name.slice(0, 4)))
      return { b: s.make(run), run }
    }

    t.test('ensure is idempotent and keeps bans', async t => {
      const { b, run } = await setup(t)
      await b.ensure(JAILS)
      const first = await s.dump(run)
      await b.ensure(JAILS)
      t.equal(await s.dump(run), first, 'a second ensure changes nothing')
      t.same(await b.list(), [])
      await b.apply({ add: [{ jail: 'ssh', ip: '192.0.2.1', timeout: HOUR }], del: [] })
      await b.ensure(JAILS)
      t.same(keys(await b.list()), ['ssh 192.0.2.1'], 'ensure never drops bans')
    })

    t.test('add, re-add (retime sets the timeout anew), delete present and absent, deletes before adds', async t => {
      const { b } = await setup(t)
      await b.ensure(JAILS)
      const bans: BanAdd[] = [
        { jail: 'ssh', ip: '192.0.2.1', timeout: HOUR },
        { jail: 'ssh', ip: '2001:db8::1', timeout: HOUR },
        { jail: 'web-1', ip: '198.51.100.7', timeout: HOUR },
        { jail: 'web-1', ip: '2001:db8::7', timeout: HOUR },
      ]
      await b.apply({ add: bans, del: [] })
      const listed = await b.list()
      t.same(keys(listed), keys(bans.map(x => ({ ...x, expiresIn: null }))))
      for (const ban of listed) {
        if (s.timeouts) t.ok(ban.expiresIn !== null && ban.expiresIn > HOUR - 60_000 && ban.expiresIn <= HOUR, `expiresIn ${ban.expiresIn}`)
        else t.equal(ban.expiresIn, null)
      }

      await b.apply({ add: bans.map(x => ({ ...x, timeout: 10 * HOUR })), del: [] })
      t.equal((await b.list()).length, 4, 'a plain re-add: no error, no duplicate')
      await b.apply({ add: bans.map(x => ({ ...x, timeout: 10 * HOUR, retime: true })), del: [] })
      const again = await b.list()
      t.equal(again.length, 4, 'no duplicate')
      if (s.timeouts) t.ok(again.every(x => x.expiresIn !== null && x.expiresIn > 9 * HOUR), 'timeouts set anew')

      await b.apply({ add: [], del: [{ jail: 'ssh', ip: '192.0.2.1' }, { jail: 'ssh', ip: '192.0.2.99' }, { jail: 'web-1', ip: '2001:db8::99' }] })
      t.same(keys(await b.list()), ['ssh 2001:db8::1', 'web-1 198.51.100.7', 'web-1 2001:db8::7'], 'absent deletes are no-ops')

      await b.apply({
        add: [{ jail: 'ssh', ip: '2001:db8::1', timeout: 2 * HOUR }, { jail: 'ssh', ip: '192.0.2.5', timeout: HOUR }],
        del: [{ jail: 'ssh', ip: '2001:db8::1' }, { jail: 'web-1', ip: '198.51.100.7' }],
      })
      const after = await b.list()
      t.same(keys(after), ['ssh 192.0.2.5', 'ssh 2001:db8::1', 'web-1 2001:db8::7'], 'deletes first, then adds')
      const v6 = after.find(x => x.ip === '2001:db8::1')
      const left = v6?.expiresIn ?? 0
      if (s.timeouts) t.ok(left <= 2 * HOUR && left > HOUR, 'the re-add holds')
    })

    t.test('an IPv6 /64 (escalation) is added, listed, re-added and deleted beside addresses', async t => {
      const { b } = await setup(t)
      await b.ensure(JAILS)
      const net = '2001:db8:1:2::/64'
      await b.apply({ add: [{ jail: 'ssh', ip: net, timeout: HOUR }, { jail: 'ssh', ip: '2001:db8:1:3::1', timeout: HOUR },
        { jail: 'web-1', ip: '2001:db8:1:2::/64', timeout: HOUR }], del: [] })
      const listed = await b.list()
      t.same(keys(listed), ['ssh 2001:db8:1:2::/64', 'ssh 2001:db8:1:3::1', 'web-1 2001:db8:1:2::/64'])
      const held = listed.find(x => x.jail === 'ssh' && x.ip === net)
      if (s.timeouts) t.ok(held?.expiresIn != null && held.expiresIn > HOUR - 60_000 && held.expiresIn <= HOUR, `expiresIn ${held?.expiresIn}`)
      await b.apply({ add: [{ jail: 'ssh', ip: net, timeout: 3 * HOUR, retime: true }, { jail: 'ssh', ip: net, timeout: 3 * HOUR }], del: [] })
      const again = await b.list()
      t.equal(again.length, 3, 'no duplicate')
      if (s.timeouts) t.ok((again.find(x => x.jail === 'ssh' && x.ip === net)?.expiresIn ?? 0) > 2 * HOUR, 'retimed')
      await b.ensure(JAILS)
      t.equal((await b.list()).length, 3, 'ensure keeps the /64')
      await b.apply({ add: [], del: [{ jail: 'ssh', ip: net }, { jail: 'ssh', ip: '2001:db8:9:9::/64' }] })
      t.same(keys(await b.list()), ['ssh 2001:db8:1:3::1', 'web-1 2001:db8:1:2::/64'], 'deleted; an absent /64 is a no-op')
      for (const bad of ['2001:db8:1:2::/48', '2001:db8:1:2::1/64', '192.0.2.0/24', '2001:db8:1:2:0:0:0:0/64']) {
        await t.rejects(b.apply({ add: [{ jail: 'ssh', ip: bad, timeout: HOUR }], del: [] }), TypeError, bad)
      }
    })

    t.test('a burst of 1,000 mixed adds and deletes in one apply, and concurrent applies', async t => {
      const { b } = await setup(t)
      await b.ensure(JAILS)
      const rand = prng(12)
      const pick = () => ({ jail: rand() < 0.5 ? 'ssh' : 'web-1', ip: POOL[Math.floor(rand() * POOL.length)]! })
      const base = Array.from({ length: 300 }, () => ({ ...pick(), timeout: HOUR }))
      await b.apply({ add: base, del: [] })
      const add: BanAdd[] = []
      const del: BanKey[] = []
      for (let i = 0; i < 1000; i++) {
        if (rand() < 0.5) add.push({ ...pick(), timeout: HOUR })
        else del.push(pick())
      }
      const expected = new Set(base.map(x => `${x.jail} ${x.ip}`))
      for (const d of del) expected.delete(`${d.jail} ${d.ip}`)
      for (const a of add) expected.add(`${a.jail} ${a.ip}`)
      await b.apply({ add, del })
      t.same(keys(await b.list()), [...expected].sort(), `exactly the ${expected.size} expected bans`)

      const all = POOL.map(ip => ({ jail: 'ssh', ip }))
      await b.apply({ add: [], del: all })
      const chunks = [0, 1, 2, 3].map(k => all.filter((_, i) => i % 4 === k).map(x => ({ ...x, timeout: HOUR })))
      await Promise.all(chunks.map(c => b.apply({ add: c, del: [] })))
      t.equal((await b.list()).filter(x => x.jail === 'ssh').length, POOL.length, 'concurrent applies all land')
    })

    if (s.tools.length > 0) {
      t.test('ensure repairs what an outsider removed', async t => {
        const { b, run } = await setup(t)
        await b.ensure(JAILS)
        const good = await s.dump(run)
        await b.apply({ add: [{ jail: 'ssh', ip: '192.0.2.1', timeout: HOUR }], del: [] })
        await s.wreck(run)
        t.same(await b.list(), [], 'gone from the kernel')
        await b.ensure(JAILS)
        t.equal(await s.dump(run), good, 'rebuilt as before')
        await b.apply({ add: [{ jail: 'ssh', ip: '192.0.2.1', timeout: HOUR }], del: [] })
        t.same(keys(await b.list()), ['ssh 192.0.2.1'])
      })
    }

    t.test('flush removes everything and counts the bans', async t => {
      const { b, run } = await setup(t)
      await b.ensure(JAILS)
      const empty = s.tools.length > 0 ? await s.dump(run) : ''
      await b.apply({ add: ['192.0.2.1', '192.0.2.2', '2001:db8::3'].map(ip => ({ jail: 'web-1', ip, timeout: HOUR })), del: [] })
      t.same(await b.flush(), { bans: 3 })
      t.same(await b.list(), [])
      t.same(await b.flush(), { bans: 0 }, 'a second flush is a no-op')
      if (s.tools.length > 0) t.not(await s.dump(run), empty, 'our rules are gone')
      if (s.tools.length > 0) t.notMatch(await s.dump(run), /banledger/)
    })

    t.test('hostile input is refused before any command runs', async t => {
      const { run, calls } = recorder()
      const b = s.make(run)
      const ips = ['1.2.3.4; rm -rf /', '$(reboot)', '0.0.0.0/0', '::/0', '::/64', '2001:db8::/63', '2001:db8::/64; flush ruleset', '192.0.2.0/64', 'x'.repeat(10_000), '::ffff:192.0.2.1', '192.0.2.01', '']
      for (const ip of ips) {
        await t.rejects(b.apply({ add: [{ jail: 'ssh', ip, timeout: HOUR }], del: [] }), TypeError, `add ${ip.slice(0, 20)}`)
        await t.rejects(b.apply({ add: [], del: [{ jail: 'ssh', ip }] }), TypeError, `del ${ip.slice(0, 20)}`)
      }
      for (const jail of ['ssh; drop', '', 'SSH', '-ssh', 'a'.repeat(33), 'ssh\nflush ruleset']) {
        await t.rejects(b.ensure([{ name: jail, ports: [22], protocol: 'tcp' }]), TypeError, `jail ${jail.slice(0, 20)}`)
        await t.rejects(b.apply({ add: [{ jail, ip: '192.0.2.1', timeout: HOUR }], del: [] }), TypeError)
      }
      for (const port of [0, 65536, 22.5, NaN]) {
        await t.rejects(b.ensure([{ name: 'ssh', ports: [port], protocol: 'tcp' }]), TypeError, `port ${port}`)
      }
      await t.rejects(b.ensure([{ name: 'ssh', ports: [22], protocol: 'icmp' as 'tcp' }]), TypeError)
      for (const timeout of [0, -1, NaN, Infinity]) {
        await t.rejects(b.apply({ add: [{ jail: 'ssh', ip: '192.0.2.1', timeout }], del: [] }), TypeError, `timeout ${timeout}`)
      }
      await t.rejects(b.apply({ add: [{ jail: 'ssh', ip: '192.0.2.1', timeout: HOUR }, { jail: 'ssh', ip: '$(reboot)', timeout: HOUR }], del: [] }),
        TypeError, 'one bad entry refuses the whole batch')
      t.same(calls, [], 'no command ran')
    })

    if (s.timeouts) {
      t.test('a short timeout really expires', async t => {
        const { b } = await setup(t)
        await b.ensure(JAILS)
        await b.apply({ add: [{ jail: 'ssh', ip: '192.0.2.9', timeout: 2000 }, { jail: 'ssh', ip: '192.0.2.10', timeout: HOUR }], del: [] })
        t.same(keys(await b.list()), ['ssh 192.0.2.10', 'ssh 192.0.2.9'])
        await waitFor(async () => keys(await b.list()).join() === 'ssh 192.0.2.10', { what: 'the 2 s ban to expire', timeout: 10_000, interval: 200 })
        t.pass('expired by itself')
      })
    }
  })
}

contract({
  name: 'nftables',
  tools: ['nft'],
  timeouts: true,
  make: run => nftablesBackend({ run }),
  dump: async run => (await out(run, 'nft', 'list', 'ruleset')).replace(/counter packets \d+ bytes \d+/g, 'counter'),
  wreck: async run => void (await run('nft', ['flush', 'ruleset'])),
})

contract({
  name: 'ipset',
  tools: ['ipset', 'iptables', 'ip6tables', 'iptables-restore', 'ip6tables-restore'],
  timeouts: true,
  make: run => ipsetBackend({ run }),
  dump: async run => (await out(run, 'ipset', 'list', '-t')).replace(/ initval 0x[0-9a-f]+/g, '').replace(/Size in memory: \d+/g, '') +
    (await iptablesDump(run)),
  wreck: async run => {
    await iptablesWreck(run)
    await run('ipset', ['destroy'])
  },
})

contract({
  name: 'iptables',
  tools: ['iptables', 'ip6tables', 'iptables-restore', 'ip6tables-restore'],
  timeouts: false,
  make: run => iptablesBackend({ run }),
  dump: iptablesDump,
  wreck: iptablesWreck,
})

contract({
  name: 'dry-run',
  tools: [],
  timeouts: true,
  make: () => dryRunBackend({ log: () => {} }),
  dump: async () => '',
  wreck: async () => {},
})

t.test('ipset: a set near maxelem warns, a set beyond it is refused with nothing applied', async t => {
  if (!(await requireNetns(t, ['ipset', 'iptables']))) return
  const run = netnsRunner(await withNetns(t, 'ipmx'))
  const warnings: string[] = []
  const b = ipsetBackend({ run, maxelem: 10, onWarning: msg => warnings.push(msg) })
  await b.ensure([SSH])
  const ban = (i: number): BanAdd => ({ jail: 'ssh', ip: `192.0.2.${i}`, timeout: HOUR })
  await b.apply({ add: [1, 2, 3, 4, 5, 6, 7, 8, 9].map(ban), del: [] })
  t.equal(warnings.length, 1)
  t.match(warnings[0], /banledger-ssh-v4 .*9 of at most 10.*firewall\.maxelem/)
  await t.rejects(b.apply({ add: [10, 11].map(ban), del: [] }), /banledger-ssh-v4 would hold 11 .*maxelem 10.*firewall\.maxelem/)
  t.equal((await b.list()).length, 9, 'nothing was applied')
  await b.apply({ add: [10, 11].map(ban), del: [{ jail: 'ssh', ip: '192.0.2.1' }] })
  t.equal((await b.list()).length, 10, 'a delete makes room in the same batch')

  const bigger = ipsetBackend({ run, maxelem: 100 })
  await bigger.ensure([SSH])
  t.match(await out(run, 'ipset', 'list', '-t', 'banledger-ssh-v4'), /maxelem 100/)
  t.equal((await bigger.list()).length, 10, 'a new maxelem keeps the bans')
  await t.rejects(ipsetBackend({ run, maxelem: 5 }).ensure([SSH]), /holds 10 addresses.*firewall\.maxelem/)
})

t.test('nftables: a banned source is dropped by the jail rule, others are not', async t => {
  if (!(await requireNetns(t, ['nft']))) return
  const run = netnsRunner(await withNetns(t, 'pkt'))
  for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) await run('ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo'])
  const b = nftablesBackend({ run })
  await b.ensure([SSH])
  await b.apply({ add: [{ jail: 'ssh', ip: '192.0.2.2', timeout: HOUR }], del: [] })
  // A TCP connect from `from` to 192.0.2.1:22, nobody listening: refused
  // at once when let through, times out when dropped.
  const connect = async (from: string) => (await run(process.execPath, ['-e', `
    const s = require('node:net').connect({ host: '192.0.2.1', port: 22, localAddress: process.argv[1], timeout: 1000 })
    s.on('error', e => { console.log(e.code); process.exit(0) })
    s.on('timeout', () => { console.log('TIMEOUT'); process.exit(0) })
    s.on('connect', () => { console.log('CONNECTED'); process.exit(0) })`, from])).stdout.trim()
  t.equal(await connect('192.0.2.3'), 'ECONNREFUSED', 'not banned: reaches the host')
  t.equal(await connect('192.0.2.2'), 'TIMEOUT', 'banned: dropped')
  t.match(await out(run, 'nft', 'list', 'chain', 'inet', 'banledger', 'input'), /@ssh_v4 counter packets [1-9]/)
})

t.test('createBackend: auto picks the best firewall that answers, and says why', async t => {
  /** A host where only `works` commands answer. */
  const host = (...works: string[]): CommandRunner => async (cmd, args) => {
    if (!works.includes(cmd)) throw new Error(`${cmd}: not here`)
    return { stdout: cmd === 'nft' && args[0] === '--version' ? 'nftables v9.9\n' : '', stderr: '' }
  }
  const pick = async (run: CommandRunner) => {
    const { backend, reason } = await createBackend('auto', { run, log: () => {} })
    return `${backend.name} | ${reason}`
  }
  t.match(await pick(host('nft', 'ipset', 'iptables')), /^nftables \| nftables: nftables v9\.9 answered/)
  t.match(await pick(host('ipset', 'iptables')), /^ipset \| ipset: /)
  t.match(await pick(host('iptables')), /^iptables \| iptables: /)
  await t.rejects(pick(host()), /no firewall answered/)
  const named = await createBackend('dry-run', { run: host(), log: () => {} })
  t.equal(named.backend.name, 'dry-run')
  t.test('in a namespace with nftables', async t => {
    if (!(await requireNetns(t, ['nft']))) return
    t.match(await pick(netnsRunner(await withNetns(t, 'auto'))), /^nftables \| nftables: nftables v\d/)
  })
})

t.test('no namespace made by this file is left behind', async t => {
  const { stdout } = await exec('ip', ['netns', 'list'])
  const left = namespacesMade().filter(ns => stdout.includes(ns))
  t.same(left, [], `${namespacesMade().length} namespaces made, all deleted`)
})
