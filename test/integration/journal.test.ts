// Jails on the systemd journal (issue 3), end to end: a real journald in a
// private namespace (helpers/journal-ns.ts), entries written with logger
// --journald, the real binary running inside the namespace and reading them
// through journalctl. Bans are checked from outside through the service's
// control socket (the data dir is on the real file system).
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { builtinJournalMatches } from '../../services/watcher/filters/builtin.js'
import { formatMatch, parseJournalMatch, type JournalMatch } from '../../services/watcher/journal-match.js'
import { BIN, bansJson, cli, tempDir } from '../helpers/cli.js'
import { fail2banFiles, fail2banUnavailable } from '../helpers/fail2ban-files.js'
import { journalNs, type InsideProcess, type JournalNs } from '../helpers/journal-ns.js'
import { waitFor } from '../helpers/wait-for.js'

const files = await fail2banFiles()
if (files === null && process.env['CI'] === 'true') throw new Error(`CI must run the fail2ban filter tests: ${fail2banUnavailable}`)

/** The cursor key of the built-in sshd's default matches. */
const SSHD_KEY = `journal:${formatMatch(parseJournalMatch(builtinJournalMatches.get('sshd') ?? '') as JournalMatch)}`

async function writeConfig(dir: string, jails: string): Promise<string> {
  const config = join(dir, 'banledger.yaml')
  await writeFile(config, `data_dir: ${join(dir, 'data')}
host: test
ignore_self: false
log_level: debug
firewall: { backend: dry-run }   # never the host's firewall in tests
defaults: { maxretry: 3, findtime: 48h, bantime: 5d }
jails:
${jails}`)
  return config
}

/** `banledger run` inside the namespace, once it says it runs. */
async function startInside(ns: JournalNs, config: string): Promise<InsideProcess> {
  const service = ns.spawn(process.execPath, [BIN, 'run', '--config', config])
  await waitFor(() => service.output().includes('banledger running') || service.child.exitCode !== null,
    { timeout: 20_000, what: 'service start' })
  if (service.child.exitCode !== null) throw new Error(`service exited: ${service.output()}`)
  return service
}

/** SIGTERM to the service itself (nsenter does not pass signals on); its exit code. */
async function stop(service: InsideProcess): Promise<number | null> {
  process.kill(await service.pid(), 'SIGTERM')
  return service.exited
}

/** The log events the ledger stored about `ip`, as `jail` strings. */
async function eventsAbout(config: string, ip: string): Promise<{ jail: string; id: string; source: string }[]> {
  const r = await cli(['explain', ip, '--json', '--config', config])
  if (r.code !== 0) throw new Error(`explain failed: ${r.stderr}`)
  return r.stdout.split('\n').filter(Boolean)
    .map(l => (JSON.parse(l) as { cause?: { log?: { jail: string; id: string; source: string } } }).cause?.log)
    .filter(e => e !== undefined)
}

/** journalctl processes alive (not zombies) in the namespace. */
async function liveJournalctl(ns: JournalNs): Promise<number> {
  const stats = await ns.exec('sh', ['-c', 'cat /proc/[0-9]*/stat 2>/dev/null || true'])
  return stats.split('\n').filter(l => / \(journalctl\) [^Z]/.test(l)).length
}

const count = (events: readonly { jail: string }[], jail: string): number => events.filter(e => e.jail === jail).length

const sshd = (ns: JournalNs, message: string, opts: { uid?: number } = {}): Promise<void> =>
  ns.log({ MESSAGE: message, SYSLOG_IDENTIFIER: 'sshd', SYSLOG_PID: '4242' }, opts)
const failed = (ip: string, user = 'root') => `Failed password for ${user} from ${ip} port 4242 ssh2`

t.test('failures in the journal ban (built-in sshd, fail2ban sshd.conf); kill -9 and restart: each entry once, none lost', async t => {
  const ns = await journalNs(t)
  if (ns === null) return
  const dir = await tempDir(t)
  // fail2ban's default journalmatch (_SYSTEMD_UNIT=sshd.service + _COMM=sshd)
  // does not match logger's entries: _COMM is the sender's (logger).
  const config = await writeConfig(dir, `  ssh: { filter: sshd, success_filter: sshd-success, backend: systemd, ports: [22] }
${files === null ? '' : `  f2b: { filter: ${join(files.filterDir, 'sshd.conf')}, backend: systemd, journalmatch: "SYSLOG_IDENTIFIER=sshd" }\n`}`)
  const jails = files === null ? ['ssh'] : ['ssh', 'f2b']
  const A = '203.0.113.7'
  const B = '198.51.100.23'
  let service = await startInside(ns, config)
  t.match(service.output(), /reading the journal \(journal:SYSLOG_IDENTIFIER=sshd _UID=0 \+ .*\) from \S+ \(no cursor yet\)/)
  await sshd(ns, failed(A))
  await sshd(ns, failed(A, 'invalid user admin'))
  await waitFor(async () => (await eventsAbout(config, A)).length === 2 * jails.length,
    { timeout: 10_000, what: 'two failures of A in each jail' })
  const offsets = join(dir, 'data', 'watcher', 'offsets.json')
  const cursors = async (): Promise<Record<string, { cursor?: string }>> =>
    (JSON.parse(await readFile(offsets, 'utf8')) as { files: Record<string, { cursor?: string }> }).files
  await waitFor(async () => Object.values(await cursors()).filter(e => e.cursor !== undefined).length === jails.length,
    { timeout: 5000, what: 'a cursor stored per journal source' })
  t.type((await cursors())[SSHD_KEY]?.cursor, 'string', `the built-in's source is keyed ${SSHD_KEY}`)

  t.equal(await liveJournalctl(ns), jails.length, 'one journalctl per match set')
  process.kill(await service.pid(), 'SIGKILL')
  await service.exited
  await waitFor(async () => (await liveJournalctl(ns)) === 0, { timeout: 5000, what: 'journalctl to exit with its reader gone' })
  await sshd(ns, failed(A))
  for (let i = 0; i < 3; i++) await sshd(ns, failed(B, `user${i}`))
  service = await startInside(ns, config)
  t.match(service.output(), /reading the journal \(journal:SYSLOG_IDENTIFIER=sshd _UID=0 .*\) after its stored cursor/)
  const bans = await waitFor(async () => {
    const b = await bansJson(config)
    return b.length === 2 * jails.length ? b : null
  }, { timeout: 15_000, what: `bans of A and B in ${jails.join(', ')}` })
  t.same(bans.map(b => `${b.jail} ${b.ip}`).sort(), jails.flatMap(j => [`${j} ${A}`, `${j} ${B}`]).sort())
  for (const ip of [A, B]) {
    const events = await eventsAbout(config, ip)
    for (const jail of jails) t.equal(count(events, jail), 3, `${ip} in ${jail}: three entries, each stored once`)
    t.ok(events.every(e => e.source === 'journal' && /^test\/journal\/[0-9a-f]{20}\/(ssh|f2b)$/.test(e.id)), 'ids from the entry, not a file')
  }
  t.equal(await stop(service), 0, 'a clean stop')
  t.equal(await liveJournalctl(ns), 0, 'close() killed journalctl')
})

t.test('a first start reads back only the horizon', async t => {
  const ns = await journalNs(t)
  if (ns === null) return
  const dir = await tempDir(t)
  const config = await writeConfig(dir, '  ssh: { filter: sshd, backend: systemd, findtime: 3s, grace: 0 }\n')
  const OLD = '192.0.2.10'
  const NEW = '192.0.2.11'
  for (let i = 0; i < 3; i++) await sshd(ns, failed(OLD))
  const written = Date.now()
  await waitFor(() => Date.now() > written + 4500, { timeout: 10_000, what: 'the old entries to be older than the 3 s horizon' })
  const service = await startInside(ns, config)
  const from = /reading the journal \(journal:[^)]*\) from (\S+) \(no cursor yet\)/.exec(service.output())?.[1]
  t.ok(from !== undefined && Date.parse(from) > written, `journalctl starts after the old entries (${from})`)
  for (let i = 0; i < 3; i++) await sshd(ns, failed(NEW))
  await waitFor(async () => (await bansJson(config)).length > 0, { timeout: 10_000, what: 'the ban of NEW' })
  t.same((await bansJson(config)).map(b => b.ip), [NEW])
  t.same(await eventsAbout(config, OLD), [], 'entries before the horizon were not read')
  await stop(service)
})

t.test('hostile entries: injected addresses, overlong, invalid UTF-8, a non-root writer: no false ban, no crash', async t => {
  const ns = await journalNs(t)
  if (ns === null) return
  const dir = await tempDir(t)
  const config = await writeConfig(dir, '  ssh: { filter: sshd, backend: systemd }\n')
  const service = await startInside(ns, config)
  for (let i = 0; i < 3; i++) {
    // The user name carries an address; the real peer is the last one.
    await sshd(ns, 'Failed password for invalid user x from 1.2.3.4 port 22 ssh2 from 198.51.100.66 port 22 ssh2')
    await sshd(ns, 'Failed password for invalid user root from 1.2.3.5 port 22 ssh2 from 192.0.2.99 port 4242 ssh2x')
    // MESSAGE cut at max_line_bytes (8192): the tail sshd writes is gone.
    await sshd(ns, failed('192.0.2.55', 'A'.repeat(20_000)))
    // A JSON line beyond 6 x 8192 + 16 KiB: skipped whole.
    await sshd(ns, failed('192.0.2.56', 'B'.repeat(100_000)))
    // Bytes that are not UTF-8 (journalctl writes them as an array of numbers).
    await ns.log({ MESSAGE: Buffer.concat([Buffer.from('Failed password for '), Buffer.from([0xff, 0xfe, 0x01]), Buffer.from(' from 192.0.2.57 port 22 ssh2')]),
      SYSLOG_IDENTIFIER: 'sshd' })
    await ns.log({ MESSAGE: Buffer.from([0xff, 0x00, 0xc3, 0x28, 0x0a]), SYSLOG_IDENTIFIER: 'sshd' })
    // Any local user can write SYSLOG_IDENTIFIER=sshd; the defaults read root's entries only (_UID=0).
    await sshd(ns, failed('192.0.2.77'), { uid: 65534 })
    await ns.log({ MESSAGE: failed('192.0.2.78'), SYSLOG_IDENTIFIER: 'cron' })
  }
  for (let i = 0; i < 3; i++) await sshd(ns, failed('203.0.113.50'))
  await waitFor(async () => (await bansJson(config)).some(b => b.ip === '203.0.113.50'), { timeout: 15_000, what: 'the ban after the hostile entries' })
  t.same((await bansJson(config)).map(b => b.ip).sort(), ['192.0.2.57', '198.51.100.66', '203.0.113.50'],
    'the real peers (a name that is not UTF-8 is decoded lossily and still counts); no injected, cut, skipped or foreign address')
  t.equal(service.child.exitCode, null, 'still running')
  t.match(service.output(), /overlong line cut/)
  t.match(service.output(), /journal entry of \d+ bytes skipped/)
  t.equal(await stop(service), 0, 'a clean stop')
})

t.test('a journalmatch that matches nothing yields nothing', async t => {
  const ns = await journalNs(t)
  if (ns === null) return
  const dir = await tempDir(t)
  const config = await writeConfig(dir, `  ssh: { filter: sshd, backend: systemd }
  quiet: { filter: sshd, backend: systemd, journalmatch: "SYSLOG_IDENTIFIER=no-such-program" }
`)
  const service = await startInside(ns, config)
  for (let i = 0; i < 3; i++) await sshd(ns, failed('203.0.113.60'))
  await waitFor(async () => (await bansJson(config)).length > 0, { timeout: 10_000, what: 'the ssh jail\'s ban' })
  const events = await eventsAbout(config, '203.0.113.60')
  t.same([count(events, 'ssh'), count(events, 'quiet')], [3, 0], 'the same entries, read by one jail only')
  t.same((await bansJson(config)).map(b => b.jail), ['ssh'])
  await stop(service)
})

t.test('a cursor journalctl refuses: the source stops, is restarted with backoff and reads from the horizon', async t => {
  const ns = await journalNs(t)
  if (ns === null) return
  const dir = await tempDir(t)
  const config = await writeConfig(dir, '  ssh: { filter: sshd, backend: systemd }\n')
  await mkdir(join(dir, 'data', 'watcher'), { recursive: true })
  await writeFile(join(dir, 'data', 'watcher', 'offsets.json'), JSON.stringify({
    version: 1, files: { [SSHD_KEY]: { path: SSHD_KEY, offset: 0, updatedAt: Date.now(), cursor: 'not-a-cursor' } },
  }))
  for (let i = 0; i < 3; i++) await sshd(ns, failed('203.0.113.70'))
  const service = await startInside(ns, config)
  await waitFor(async () => (await bansJson(config)).length > 0, { timeout: 15_000, what: 'the ban after the restart' })
  const out = service.output()
  t.match(out, /journalctl refused the stored cursor of journal:.*; the next start reads from the horizon/)
  t.match(out, /log source journal:\S+ .*stopped: journalctl exited with code 1: Failed to seek to cursor.*; restarting in 1s/)
  t.match(out, /reading the journal \(journal:[^)]*\) from \S+ \(no cursor yet\)/)
  await stop(service)
})

t.test('journalctl missing: the watcher says why and restarts it with backoff (no root needed)', async t => {
  const dir = await tempDir(t)
  const config = await writeConfig(dir, '  ssh: { filter: sshd, backend: systemd }\n')
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, [BIN, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: '/nonexistent' } })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise(resolve => child.once('exit', resolve))
  t.teardown(() => { child.kill('SIGKILL') })
  await waitFor(() => /restarting in 2s/.test(out), { timeout: 15_000, what: 'two failed starts' })
  t.match(out, /log source journal:\S+ .*stopped: cannot run journalctl: spawn journalctl ENOENT; restarting in 1s/)
  t.equal(child.exitCode, null, 'the service keeps running')
  child.kill('SIGTERM')
  t.equal(await exited, 0)
})

t.test('the follower: its cursor moves only after onLines resolved; a restart goes on after it', async t => {
  const ns = await journalNs(t)
  if (ns === null) return
  const dir = await tempDir(t)
  const child = new URL('../helpers/journal-follower-child.ts', import.meta.url).pathname
  const offsets = join(dir, 'offsets.json')
  const MATCH = 'SYSLOG_IDENTIFIER=follower-test'
  const write = (text: string) => ns.log({ MESSAGE: text, SYSLOG_IDENTIFIER: 'follower-test' })
  const run = (mode: string[] = []) => ns.spawn(process.execPath, ['--import', 'tsx', child, offsets, String(Date.now() - 60_000), MATCH, ...mode])
  const said = (p: InsideProcess) => p.output().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as { lines?: string[]; failed?: string })
  // `<time> <host> follower-test[<pid of logger>]: <message>`: the messages.
  const texts = (p: InsideProcess) => said(p).flatMap(o => o.lines ?? []).map(l => l.replace(/^\S+ \S+ follower-test\[\d+\]: /, ''))
  const stored = async () => (JSON.parse(await readFile(offsets, 'utf8').catch(() => '{"files":{}}')) as { files: Record<string, { cursor?: string }> }).files

  await write('one')
  await write('two')
  const rejecting = run(['reject'])
  await waitFor(() => said(rejecting).some(o => o.failed !== undefined), { timeout: 15_000, what: 'the follower to fail' })
  t.equal(await rejecting.exited, 3)
  t.match(said(rejecting), [{ failed: 'the bus is down' }])
  t.same(Object.values(await stored()).filter(e => e.cursor !== undefined), [], 'no cursor after a rejected delivery')

  const first = run()
  await waitFor(() => texts(first).length === 2, { timeout: 15_000, what: 'both entries' })
  t.same(texts(first), ['one', 'two'], 'read again from `since`, in order')
  process.kill(await first.pid(), 'SIGTERM')
  t.equal(await first.exited, 0)
  t.type(Object.values(await stored())[0]?.cursor, 'string', 'the cursor of the last acknowledged entry is stored')

  await write('three')
  const second = run()
  await waitFor(() => texts(second).length > 0, { timeout: 15_000, what: 'the new entry' })
  await write('four')
  await waitFor(() => texts(second).length === 2, { timeout: 15_000, what: 'the entry written while following' })
  t.same(texts(second), ['three', 'four'], 'after the cursor: nothing twice, nothing lost')
  process.kill(await second.pid(), 'SIGTERM')
  t.equal(await second.exited, 0)
})
