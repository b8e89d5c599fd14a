// Real packets, end to end (R4, R5, R12): a "server" namespace runs a TCP
// service and banledger watching a log file; an "attacker" namespace
// connects over a veth pair. The test appends sshd failure lines and
// observes the kernel drop the attacker, then let it in again.
import { execFile, spawn } from 'node:child_process'
import { appendFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { BIN, cli, sshdLine, tempDir } from '../helpers/cli.js'
import { hasNetnsCapability, withNetns } from '../helpers/netns.js'
import { PATIENCE, patience } from '../helpers/patience.js'
import { waitFor } from '../helpers/wait-for.js'

const run = promisify(execFile)
const SERVER_V4 = '198.51.100.1'
const ATTACKER_V4 = '198.51.100.2'
const SERVER_V6 = '2001:db8:51::1'
const ATTACKER_V6 = '2001:db8:51::2'

const missing = await hasNetnsCapability(['nft', 'ipset', 'iptables'])
if (missing !== null && process.env['CI'] === 'true') throw new Error(`CI must run the firewall end-to-end test, but: ${missing}`)
if (missing !== null) t.comment(`skipping the firewall end-to-end tests: ${missing}`)
/** Skips every test here, with the reason printed, where namespaces or firewall tools are truly absent. */
const when = missing === null ? {} : { skip: missing }

type Lab = Readonly<{ srv: string; att: string }>

/** Two namespaces joined by a veth pair, with documentation addresses. */
async function lab(t: Test): Promise<Lab> {
  const srv = await withNetns(t, 'srv')
  const att = await withNetns(t, 'att')
  const a = `v${srv.slice(-6)}`
  const b = `w${srv.slice(-6)}`
  await run('ip', ['link', 'add', a, 'netns', srv, 'type', 'veth', 'peer', 'name', b, 'netns', att])
  for (const [ns, dev, v4, v6] of [[srv, a, SERVER_V4, SERVER_V6], [att, b, ATTACKER_V4, ATTACKER_V6]] as const) {
    await run('ip', ['-n', ns, 'addr', 'add', `${v4}/24`, 'dev', dev])
    await run('ip', ['-n', ns, 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad'])
    await run('ip', ['-n', ns, 'link', 'set', dev, 'up'])
  }
  // A TCP service on port 22 in the server namespace.
  const server = spawn('ip', ['netns', 'exec', srv, process.execPath, '-e',
    "require('net').createServer(s => s.end('hello\\n')).listen(22, '::', () => console.log('listening'))"], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { server.kill('SIGKILL') })
  let out = ''
  server.stdout.on('data', (d: Buffer) => { out += d.toString() })
  await waitFor(() => out.includes('listening'), { timeout: 10_000, what: 'the TCP service' })
  return { srv, att }
}

/** How long a probe waits for the greeting: 700 ms where the test expects
 *  the attacker dropped (a slow answer then passes for a drop, which only
 *  the probes that expect one see), PATIENT where it expects them let in
 *  (a stalled server must not pass for a drop). */
const DROPPED = 700
const PATIENT = patience(700)

/** True when the attacker gets the service's greeting within `wait` ms. */
async function connects(l: Lab, host: string, wait: number): Promise<boolean> {
  const script = `const s = require('net').connect({ host: ${JSON.stringify(host)}, port: 22 });
s.setTimeout(${wait}, () => process.exit(1)); s.on('data', () => process.exit(0)); s.on('error', () => process.exit(1))`
  try {
    await run('ip', ['netns', 'exec', l.att, process.execPath, '-e', script], { timeout: patience(5000) + wait })
    return true
  } catch {
    return false
  }
}

async function startBanledger(t: Test, l: Lab, config: string) {
  const child = spawn('ip', ['netns', 'exec', l.srv, process.execPath, BIN, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  t.teardown(() => { child.kill('SIGKILL') })
  await waitFor(() => out.includes('banledger running') || child.exitCode !== null, { timeout: 20_000, what: 'banledger start' })
  if (child.exitCode !== null) throw new Error(`banledger exited: ${out}`)
  return { child, exited, output: () => out }
}

async function setup(t: Test, backend: string, bantime = '1h') {
  const l = await lab(t)
  const dir = await tempDir(t, 'banledger-e2e-')
  const log = join(dir, 'auth.log')
  const config = join(dir, 'banledger.yaml')
  await writeFile(log, '')
  await writeFile(config, `data_dir: ${join(dir, 'data')}
host: server
ignore_self: true
firewall: { backend: ${backend}, check_interval: 1s }
watcher: { poll_interval: 50ms }
defaults: { maxretry: 3, findtime: 48h, bantime: ${bantime} }
jails:
  ssh:
    filter: sshd
    logpath: [${log}]
    ports: [22]
    protocol: tcp
`)
  const fail = async (ip: string): Promise<void> => {
    const now = Date.now()
    for (let i = 0; i < 3; i++) await appendFile(log, sshdLine(new Date(now - 3000 + i * 1000), `Failed password for root from ${ip} port 40000 ssh2`))
  }
  return { l, config, fail }
}

const nsRun = (ns: string, cmd: string, args: string[]) => run('ip', ['netns', 'exec', ns, cmd, ...args])

for (const backend of ['nftables', 'ipset', 'iptables']) {
  t.test(`${backend}: banned after maxretry, let in after unban, IPv4 and IPv6`, when, async t => {
    const { l, config, fail } = await setup(t, backend)
    const service = await startBanledger(t, l, config)
    for (const [ip, host] of [[ATTACKER_V4, SERVER_V4], [ATTACKER_V6, SERVER_V6]] as const) {
      await waitFor(() => connects(l, host, PATIENT), { timeout: 15_000, what: `${ip} to connect before` })
      await fail(ip)
      await waitFor(async () => !(await connects(l, host, DROPPED)), { timeout: 15_000, what: `${ip} dropped` })
      t.pass(`${ip} is dropped after 3 failures`)
      const r = await cli(['unban', ip, '--jail', 'ssh', '--config', config])
      t.equal(r.code, 0, r.stderr)
      await waitFor(() => connects(l, host, PATIENT), { timeout: 15_000, what: `${ip} let in after unban` })
      t.pass(`${ip} connects after unban`)
    }
    service.child.kill('SIGTERM')
    t.equal(await service.exited, 0)
  })
}

t.test('nftables: kill -9, clean stop, flushed ruleset, and expiry', when, async t => {
  const { l, config, fail } = await setup(t, 'nftables')
  let service = await startBanledger(t, l, config)
  await fail(ATTACKER_V4)
  await waitFor(async () => !(await connects(l, SERVER_V4, DROPPED)), { timeout: 15_000, what: 'dropped' })
  const elements = async (): Promise<string> => (await nsRun(l.srv, 'nft', ['list', 'set', 'inet', 'banledger', 'ssh_v4'])).stdout

  service.child.kill('SIGKILL')
  await service.exited
  t.notOk(await connects(l, SERVER_V4, DROPPED), 'still dropped while the service is dead (the kernel keeps the set)')
  service = await startBanledger(t, l, config)
  t.notOk(await connects(l, SERVER_V4, DROPPED), 'still dropped after kill -9 and start')
  t.equal((await elements()).split(ATTACKER_V4).length - 1, 1, 'one set element, no duplicate')

  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0)
  t.notOk(await connects(l, SERVER_V4, DROPPED), 'R5: still dropped after a clean stop')
  service = await startBanledger(t, l, config)

  // A reload (SIGHUP) onto a config with a second port: the ban is kept,
  // the rule is rebuilt for both ports.
  await writeFile(config, (await readFile(config, 'utf8')).replace('ports: [22]', 'ports: [22, 2222]'))
  service.child.kill('SIGHUP')
  await waitFor(() => service.output().includes('configuration reloaded'), { timeout: 15_000, what: 'the reload' })
  t.notOk(await connects(l, SERVER_V4, DROPPED), 'still dropped after a reload')
  t.equal((await elements()).split(ATTACKER_V4).length - 1, 1, 'one set element after the reload')
  t.match((await nsRun(l.srv, 'nft', ['list', 'chain', 'inet', 'banledger', 'input'])).stdout, /2222/, 'the rule covers the new port')

  // The service repairs drift every second: stopped (SIGSTOP), it cannot
  // put the ban back before the probe has seen the flush let the attacker in.
  service.child.kill('SIGSTOP')
  await nsRun(l.srv, 'nft', ['flush', 'ruleset'])
  t.ok(await connects(l, SERVER_V4, PATIENT), 'someone flushed the ruleset: the attacker gets in')
  service.child.kill('SIGCONT')
  await waitFor(async () => !(await connects(l, SERVER_V4, DROPPED)), { timeout: 10_000, what: 'the ban back after the check interval' })
  t.pass('drift repaired within the check interval')

  // A short ban: the kernel lets the address in again when it ends.
  t.equal((await cli(['unban', ATTACKER_V4, '--jail', 'ssh', '--config', config])).code, 0)
  await waitFor(() => connects(l, SERVER_V4, PATIENT), { timeout: 10_000, what: 'let in after unban' })
  // 4 s on a quiet machine, longer where waits are (the ban must last until a probe sees it)
  const short = await cli(['ban', ATTACKER_V4, '--jail', 'ssh', '--duration', `${4 * Math.min(PATIENCE, 3)}s`, '--config', config])
  t.equal(short.code, 0, short.stderr)
  await waitFor(async () => !(await connects(l, SERVER_V4, DROPPED)), { timeout: 5000, what: 'the short ban in force' })
  await waitFor(() => connects(l, SERVER_V4, PATIENT), { timeout: 15_000, interval: 300, what: 'the short ban to expire' })
  t.pass('connects again after the ban expired')
  service.child.kill('SIGTERM')
  await service.exited
})

t.test('hostile and protected addresses never reach the kernel', when, async t => {
  const { l, config } = await setup(t, 'nftables')
  const service = await startBanledger(t, l, config)
  // The server's own address, through the operator path: refused by the rules (ignore_self).
  const own = await cli(['ban', SERVER_V4, '--jail', 'ssh', '--config', config])
  t.match(own.stdout, /no effect: address is in an ignore list or is this host's own/)
  for (const bad of ['1.2.3.4; nft flush ruleset', '$(reboot)', '0.0.0.0/0', '::/0', 'x'.repeat(10_000)]) {
    const r = await cli(['ban', bad, '--jail', 'ssh', '--config', config])
    t.equal(r.code, 2, `refused: ${bad.slice(0, 30)}`)
  }
  const set = (await nsRun(l.srv, 'nft', ['list', 'set', 'inet', 'banledger', 'ssh_v4'])).stdout
  t.notMatch(set, /elements/, 'nothing was added to the kernel set')
  t.ok(await connects(l, SERVER_V4, PATIENT), 'the service is reachable')
  service.child.kill('SIGTERM')
  await service.exited
})

t.test('banledger firewall list, check and flush, with the service stopped', when, async t => {
  const { l, config, fail } = await setup(t, 'nftables')
  const service = await startBanledger(t, l, config)
  await fail(ATTACKER_V4)
  await waitFor(async () => !(await connects(l, SERVER_V4, DROPPED)), { timeout: 15_000, what: 'dropped' })
  service.child.kill('SIGTERM')
  await service.exited
  const fw = (action: string) => nsRun(l.srv, process.execPath, [BIN, 'firewall', action, '--config', config])
  t.match((await fw('list')).stdout, new RegExp(`1 ban in the kernel \\(nftables\\)\\n\\s*ssh\\s+${ATTACKER_V4.replace(/\./g, '\\.')}\\s+\\d+s left`))
  await nsRun(l.srv, 'nft', ['flush', 'ruleset'])
  t.match((await fw('check')).stdout, /repaired: 1 missing, 0 stale, 0 with a wrong timeout; 1 bans in force/)
  t.notOk(await connects(l, SERVER_V4, DROPPED), 'check put the ban back')
  t.match((await fw('check')).stdout, /in sync: 1 bans in force/)
  t.match((await fw('flush')).stdout, /removed banledger's firewall rules and 1 ban \(nftables\); the ledger still holds them/)
  t.ok(await connects(l, SERVER_V4, PATIENT), 'flush let the attacker in')
  t.equal((await nsRun(l.srv, 'nft', ['list', 'tables'])).stdout.trim(), '', 'nothing of banledger is left')
})
