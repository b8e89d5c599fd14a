// The single-host service as a sysadmin runs it: real log lines appended to
// a file, the real binary, LevelDB on disk, clean and abrupt stops (R4, R5).
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { SUMMARIES } from '../../ops/cli/summaries.js'
import { bansJson, cli, sshdLine, startService, tempDir, writeConfig } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait-for.js'

const IP = '203.0.113.7'

t.test('failures in the log ban; clean and abrupt stops keep the ban', async t => {
  const dir = await tempDir(t)
  const { config, log } = await writeConfig(dir)
  let service = await startService(t, config)
  const now = Date.now()
  for (let i = 0; i < 3; i++) {
    await appendFile(log, sshdLine(new Date(now - 3000 + i * 1000), `Failed password for root from ${IP} port 4242 ssh2`))
  }
  const bans = await waitFor(async () => (await bansJson(config)).find(b => b.ip === IP), { timeout: 10_000, what: 'the ban' })
  t.match(bans, { jail: 'ssh', ip: IP, reason: 'maxretry' })
  t.match(service.output(), /"msg":"ban 203\.0\.113\.7 in ssh until/, 'the decision is logged')

  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0, 'a clean stop exits 0')
  t.match(service.output(), /bans stay in force/)
  t.same((await bansJson(config)).map(b => b.ip), [IP], 'R5: after a clean stop the ban is still in the ledger (read directly)')

  service = await startService(t, config)
  t.same((await bansJson(config)).map(b => b.ip), [IP], 'after a start, through the service')
  service.child.kill('SIGKILL')
  await service.exited
  service = await startService(t, config)
  t.same((await bansJson(config)).map(b => b.ip), [IP], 'R4: after kill -9 and a start, the ban is there')
  // The lines were not counted again after the restarts (offsets, idempotent ids).
  const explain = await cli(['explain', IP, '--config', config])
  t.equal(explain.stdout.match(/failure counted/g)?.length, 3, 'each failure line is in the ledger once')
  service.child.kill('SIGTERM')
  await service.exited
})

t.test('SIGHUP reloads the config in-process: bans stay, new settings apply; a config with problems is refused and the service runs on', async t => {
  const dir = await tempDir(t)
  const { config, log } = await writeConfig(dir)
  const service = await startService(t, config)
  const now = Date.now()
  const fail = (ip: string, i: number) => appendFile(log, sshdLine(new Date(now - 10_000 + i * 1000), `Failed password for root from ${ip} port 4242 ssh2`))
  const counted = async (ip: string) => (await cli(['explain', ip, '--config', config])).stdout.match(/failure counted/g)?.length ?? 0
  for (let i = 0; i < 3; i++) await fail('192.0.2.10', i)
  await waitFor(async () => (await bansJson(config)).some(b => b.ip === '192.0.2.10'), { timeout: 10_000, what: 'the first ban' })

  const good = await readFile(config, 'utf8')
  await writeFile(config, `${good.replace('maxretry: 3', 'maxretry: -1')}bogus_key: 1\n`)
  service.child.kill('SIGHUP')
  await waitFor(() => /still running on the configuration read before/.test(service.output()), { timeout: 10_000, what: 'the refusal' })
  t.match(service.output(), /defaults\.maxretry/, 'each problem is logged with its path')
  t.match(service.output(), /bogus_key/)

  // Still the config read at start (maxretry 3): one failure counts, no ban.
  await writeFile(config, good.replace('maxretry: 3', 'maxretry: 1'))
  await fail('192.0.2.11', 3)
  await waitFor(async () => (await counted('192.0.2.11')) === 1, { timeout: 10_000, what: 'the failure of 192.0.2.11' })
  t.notOk((await bansJson(config)).some(b => b.ip === '192.0.2.11'), 'the refused config did not apply')

  service.child.kill('SIGHUP')
  await waitFor(() => /configuration reloaded/.test(service.output()), { timeout: 15_000, what: 'the reload' })
  await fail('192.0.2.12', 4)
  await waitFor(async () => (await bansJson(config)).some(b => b.ip === '192.0.2.12'), { timeout: 10_000, what: 'a ban at maxretry 1' })
  t.same((await bansJson(config)).map(b => b.ip).sort(), ['192.0.2.10', '192.0.2.12'], 'the ban before the reload stays (R5)')
  t.equal(await counted('192.0.2.11'), 1, 'lines read before the reload are not counted again')

  // Valid, but the service cannot start on it (the filter is looked up at
  // start): it starts again on the config before (maxretry 1).
  await writeFile(config, good.replace('maxretry: 3', 'maxretry: 1').replace('filter: sshd\n', 'filter: no-such-filter\n'))
  service.child.kill('SIGHUP')
  await waitFor(() => (service.output().match(/banledger running/g)?.length ?? 0) === 3, { timeout: 15_000, what: 'the start on the config before' })
  t.match(service.output(), /did not start on the new configuration: .*unknown filter \\"no-such-filter\\".*starting it again on the one before/)
  await fail('192.0.2.13', 5)
  await waitFor(async () => (await bansJson(config)).some(b => b.ip === '192.0.2.13'), { timeout: 10_000, what: 'a ban at maxretry 1, again' })
  t.equal(service.child.exitCode, null, 'the same process throughout')
  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0)
})

t.test('status counts each jail\'s addresses, through the running service and without it', async t => {
  const dir = await tempDir(t)
  const { config, log } = await writeConfig(dir, `  quiet:\n    filter: sshd\n    logpath: [${join(dir, 'missing.log')}, ${join(dir, 'logs', '*.log')}]\n`)
  const service = await startService(t, config)
  const now = Date.now()
  const line = (ip: string, i: number, text = `Failed password for root from ${ip} port 4242 ssh2`) => appendFile(log, sshdLine(new Date(now - 10_000 + i * 1000), text))
  for (let i = 0; i < 3; i++) await line('192.0.2.20', i)
  await line('192.0.2.21', 3)
  await line('192.0.2.22', 4, 'Accepted password for alice from 192.0.2.22 port 4242 ssh2')
  const status = async () => {
    const r = await cli(['status', '--json', '--config', config])
    if (r.code !== 0) throw new Error(r.stderr)
    return JSON.parse(r.stdout) as { seq: number; service: boolean; jails: { jail: string; tracked: number }[]; sources: { files: { read: number | null; size: number | null }[] }[] }
  }
  const live = await waitFor(async () => {
    const s = await status()
    const file = s.sources[0]?.files[0]
    return s.jails[0]?.tracked === 3 && file?.read === file?.size ? s : null // offsets are stored about once a second
  }, { timeout: 10_000, what: 'three addresses tracked, the log read to the end' })
  t.same(live.jails, [
    { jail: 'ssh', configured: true, banned: 1, failing: 1, grace: 1, tracked: 3 },
    { jail: 'quiet', configured: true, banned: 0, failing: 0, grace: 0, tracked: 0 },
  ], 'config order; a jail with nothing tracked is listed')
  t.equal(live.service, true)
  t.ok(live.seq >= 5)
  const size = (await readFile(log)).length
  t.same(live.sources, [
    { jail: 'ssh', journal: false, files: [{ path: log, read: size, size, error: null }] },
    { jail: 'quiet', journal: false, files: [
      { path: join(dir, 'missing.log'), read: null, size: null, error: 'ENOENT' },
      { path: join(dir, 'logs', '*.log'), read: null, size: null, error: 'no file matches' },
    ] },
  ], "each jail's files: read to the end, missing, a glob that matches nothing")
  const text = await cli(['status', '--config', config])
  t.match(text.stdout, /^ledger at sequence \d+, through the running service\njail +banned +failing +in grace +tracked\nssh +1 +1 +1 +3\nquiet +0 +0 +0 +0$/m)
  t.match(text.stdout, new RegExp(`^ {2}ssh +${log} +${size} bytes, read to the end$`, 'm'))
  t.match(text.stdout, /no such file \(the service waits for it\)\n.*no file matches yet \(the service looks again\)$/m)

  service.child.kill('SIGTERM')
  await service.exited
  const direct = await status()
  t.same(direct, { ...live, service: false }, 'the same, read directly once the service stopped')
})

t.test('operator commands work through the running service and without it', async t => {
  const dir = await tempDir(t)
  const { config } = await writeConfig(dir)
  const service = await startService(t, config)
  let r = await cli(['ban', '198.51.100.20', '--jail', 'ssh', '--reason', 'manual', '--config', config])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /BANNED until/)
  r = await cli(['ban', '198.51.100.20', '--jail', 'ssh', '--config', config])
  t.match(r.stdout, /no effect: already banned/, 'R13: banning a banned address is a no-op')
  t.match(service.output(), /ban 198\.51\.100\.20 in ssh/, 'the service published the decision')
  r = await cli(['unban', '198.51.100.20', '--jail', 'ssh', '--config', config])
  t.match(r.stdout, /ban lifted/)
  service.child.kill('SIGTERM')
  await service.exited
  r = await cli(['unban', '198.51.100.20', '--jail', 'ssh', '--config', config])
  t.match(r.stdout, /no effect: not banned/, 'R13, directly on the ledger')
  r = await cli(['ban', 'not-an-ip;rm -rf /', '--jail', 'ssh', '--config', config])
  t.equal(r.code, 2)
  t.match(r.stderr, /not an IPv4 or IPv6 address/)
  r = await cli(['ban', '198.51.100.21', '--jail', 'nope', '--config', config])
  t.match(r.stderr, /no jail "nope"/)
  r = await cli(['replay', '--config', config])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /projections verified/)
})

t.test('hostile log lines: garbage, overlong, injected addresses, NUL bytes: no crash, no false ban', async t => {
  const dir = await tempDir(t)
  const { config, log } = await writeConfig(dir)
  const service = await startService(t, config)
  const now = new Date()
  const lines = [
    'garbage \u0000\u0001 line without anything',
    sshdLine(now, `Failed password for invalid user x from 198.51.100.66 port 22 ssh2 from 10.9.9.9 port 22`).trimEnd(),
    ...[1, 2, 3].map(() => sshdLine(now, 'Failed password for invalid user root from 198.51.100.66 port 22 ssh2 from 192.0.2.99 port 4242 ssh2x').trimEnd()),
    sshdLine(now, `Failed password for ${'A'.repeat(100_000)} from 192.0.2.55 port 22 ssh2`).trimEnd(),
    sshdLine(now, 'Failed password for root from 999.1.1.1 port 22 ssh2').trimEnd(),
    Buffer.from([0xff, 0xfe, 0x00, 0x41]).toString('latin1'),
  ]
  await appendFile(log, `${lines.join('\n')}\n`)
  const marker = '203.0.113.99'
  for (let i = 0; i < 3; i++) await appendFile(log, sshdLine(now, `Failed password for root from ${marker} port 22 ssh2`))
  await waitFor(async () => (await bansJson(config)).some(b => b.ip === marker), { timeout: 10_000, what: 'the marker ban' })
  const banned = (await bansJson(config)).map(b => b.ip)
  t.same(banned, [marker], 'only the real attacker is banned; no injected address')
  t.equal(service.child.exitCode, null, 'still running')
  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0)
})

t.test('a missing or unreadable log is logged, the service keeps running', async t => {
  const dir = await tempDir(t)
  const { config } = await writeConfig(dir, `  other:
    filter: sshd
    logpath: [${dir}/missing.log, ${dir}]
`)
  const service = await startService(t, config)
  await waitFor(() => /missing\.log/.test(service.output()), { timeout: 5000, what: 'a log line about the missing file' })
  t.equal(service.child.exitCode, null)
  service.child.kill('SIGTERM')
  t.equal(await service.exited, 0)
})

t.test('a bad config is refused with every problem, its path and line', async t => {
  const dir = await tempDir(t)
  const { config } = await writeConfig(dir, `    maxretry: lots
    colour: blue
`)
  const r = await cli(['run', '--config', config])
  t.equal(r.code, 78, 'EX_CONFIG')
  const lines = (await readFile(config, 'utf8')).split('\n')
  const lineOf = (text: string): number => lines.findIndex(l => l.includes(text)) + 1
  t.match(r.stderr, new RegExp(`line ${lineOf('maxretry: lots')}: jails\\.ssh\\.maxretry: .*"lots"`))
  t.match(r.stderr, new RegExp(`line ${lineOf('colour: blue')}: jails\\.ssh\\.colour: unknown key`))
  const missing = await cli(['bans', '--config', `${dir}/nope.yaml`])
  t.equal(missing.code, 78)
  t.match(missing.stderr, /nope\.yaml/)
  const filter = await writeConfig(await tempDir(t), `  other:
    filter: no-such-filter
    logpath: [/dev/null]
`)
  const r2 = await cli(['run', '--config', filter.config])
  t.equal(r2.code, 78)
  t.match(r2.stderr, /jails\.other\.filter: unknown filter "no-such-filter" \(built-in: sshd, sshd-success/)
})

t.test('--help lists every command; unknown commands and options are usage errors', async t => {
  const r = await cli(['--help'])
  t.equal(r.code, 0)
  for (const [c, summary] of Object.entries(SUMMARIES)) t.match(r.stdout, new RegExp(`^  ${c} +${summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'))
  const bad = await cli(['bans', '--frobnicate'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /frobnicate/)
  t.equal((await cli(['nope'])).code, 2)
})

t.test('logpath globs: every matching file is followed, and new ones as they appear', async t => {
  const dir = await tempDir(t)
  const logs = join(dir, 'logs')
  await mkdir(logs)
  await writeFile(join(logs, 'a.log'), '')
  await writeFile(join(logs, 'b.log'), '')
  await writeFile(join(logs, 'ignored.txt'), '')
  const { config } = await writeConfig(dir, `  globbed:
    filter: sshd
    logpath: [${join(logs, '*.log')}]
`)
  const service = await startService(t, config)
  const now = Date.now()
  const fail = (ip: string, i: number) => sshdLine(new Date(now - 5000 + i * 1000), `Failed password for root from ${ip} port 4242 ssh2`)
  // Three failures of one address spread over two files; a third file appears later.
  await appendFile(join(logs, 'a.log'), fail('198.51.100.71', 0) + fail('198.51.100.71', 1))
  await appendFile(join(logs, 'b.log'), fail('198.51.100.71', 2))
  await waitFor(async () => (await bansJson(config)).some(b => b.ip === '198.51.100.71' && b.jail === 'globbed'), { timeout: 10_000, what: 'the ban from two globbed files' })
  await writeFile(join(logs, 'c.log'), fail('198.51.100.72', 0) + fail('198.51.100.72', 1) + fail('198.51.100.72', 2))
  await writeFile(join(logs, 'd.txt'), fail('198.51.100.73', 0) + fail('198.51.100.73', 1) + fail('198.51.100.73', 2))
  await waitFor(async () => (await bansJson(config)).some(b => b.ip === '198.51.100.72'), { timeout: 10_000, what: 'the ban from a file created later' })
  t.notOk((await bansJson(config)).some(b => b.ip === '198.51.100.73'), 'a file the pattern does not match is not read')
  service.child.kill('SIGTERM')
  await service.exited
})

t.test('first start: existing log lines older than findtime are not sent to the ledger', async t => {
  const dir = await tempDir(t)
  const { config, log } = await writeConfig(dir)
  const old = Date.now() - 3 * 24 * 3600 * 1000
  const recent = Date.now() - 3600 * 1000
  const line = (at: number, ip: string) => sshdLine(new Date(at), `Failed password for root from ${ip} port 4242 ssh2`)
  await appendFile(log, [0, 1, 2].map(i => line(old + i * 1000, '198.51.100.81')).join('') +
    [0, 1, 2].map(i => line(recent + i * 1000, '198.51.100.82')).join(''))
  const service = await startService(t, config)
  await waitFor(async () => (await bansJson(config)).some(b => b.ip === '198.51.100.82'), { timeout: 10_000, what: 'the recent ban' })
  const explain = await cli(['explain', '198.51.100.81', '--config', config])
  t.match(explain.stdout, /no ledger entry concerns 198\.51\.100\.81/, 'three-day-old failures (findtime 48h) never reach the ledger')
  service.child.kill('SIGTERM')
  await service.exited
})
