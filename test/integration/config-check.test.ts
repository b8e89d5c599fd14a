// `banledger config check`: what `run` would refuse, found before a start or
// a reload (the systemd units run it as ExecReload), with the real binary.
import { appendFile, chmod, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { cli, tempDir, writeConfig } from '../helpers/cli.js'

t.test('given a valid config, then it says what it checked and exits 0', async t => {
  const { config } = await writeConfig(await tempDir(t))
  const r = await cli(['config', 'check', '--config', config])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, `${config}: OK for watcher, ledger, firewall, notifier (bus: embedded, firewall: dry-run)`)
  t.match(r.stdout, /^ {2}jail ssh: maxretry 3 in 2d, bantime 5d, grace 2d absorbing at most 10 failures, a success lifts a ban\n {4}reads 1 log path, with a success filter$/m)
})

t.test('given jails that inherit some keys and set others, then each jail\'s rules are printed as they apply', async t => {
  const { config } = await writeConfig(await tempDir(t), `    bantime_increment: { factor: 2, max: 30d }
  web:
    filter: sshd
    logpath: [/dev/null]
    maxretry: 5
    findtime: 10m
    grace: 1h
    grace_max_failures: 3
    success_lifts_ban: false
`)
  const r = await cli(['config', 'check', '--config', config])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^ {2}jail ssh: maxretry 3 in 2d, bantime 5d \(x2 per repeat, at most 30d\), grace 2d absorbing at most 10 failures, a success lifts a ban$/m)
  t.match(r.stdout, /^ {2}jail web: maxretry 5 in 10m, bantime 5d, grace 1h absorbing at most 3 failures\n {4}reads 1 log path$/m)
})

t.test('given problems in the file, then every one is named with its line and path, exit 78', async t => {
  const { config } = await writeConfig(await tempDir(t), '    maxretry: 0\n')
  await appendFile(config, 'bogus_key: 1\n')
  const r = await cli(['config', 'check', '--config', config])
  t.equal(r.code, 78)
  t.match(r.stderr, /line \d+: jails\.ssh\.maxretry: expected an integer from 1 to 1000, got 0/)
  t.match(r.stderr, /line \d+: bogus_key: unknown key/)
  t.equal(r.stdout, '')
})

t.test('given a filter that does not exist, then the jail is named (the file alone parses)', async t => {
  const dir = await tempDir(t)
  const { config } = await writeConfig(dir, '  web:\n    filter: no-such-filter\n    logpath: [/dev/null]\n')
  const r = await cli(['config', 'check', '--config', config])
  t.equal(r.code, 78)
  t.match(r.stderr, /jails\.web\.filter: unknown filter "no-such-filter"/)
})

t.test('given a notification secret file others can read, then the channel and file are named; once chmod 600, OK', async t => {
  const dir = await tempDir(t)
  const secret = join(dir, 'hook-secret')
  await writeFile(secret, 's3cr3t-value\n', { mode: 0o644 })
  await chmod(secret, 0o644) // whatever the umask
  const { config } = await writeConfig(dir, `notify:
  channels:
    hook:
      type: webhook
      url: http://127.0.0.1:9/hook
      secret: { file: ${secret} }
`)
  let r = await cli(['config', 'check', '--config', config])
  t.equal(r.code, 78)
  t.match(r.stderr, `${config}: notify.channels.hook: ${secret} is readable by group/others (mode 0644): chmod 600 it`)
  t.notMatch(r.stderr + r.stdout, /s3cr3t-value/, 'the secret is never printed')
  await chmod(secret, 0o600)
  r = await cli(['config', 'check', '--config', config])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /^ {2}notify hook: webhook, secrets read$/m)
  t.notMatch(r.stdout, /s3cr3t-value/)
})

t.test('given --role, then only what those roles need is checked', async t => {
  const dir = await tempDir(t)
  const broken = '  web:\n    filter: no-such-filter\n    logpath: [/dev/null]\n'
  const embedded = await writeConfig(dir, broken)
  let r = await cli(['config', 'check', '--role', 'firewall', '--config', embedded.config])
  t.equal(r.code, 78, 'the embedded bus runs every role')
  t.match(r.stderr, /--role firewall: the embedded bus runs every role in one process/)

  await appendFile(embedded.config, 'bus: { nats: { servers: [nats://127.0.0.1:4222] } }\n')
  r = await cli(['config', 'check', '--role', 'firewall,ledger', '--config', embedded.config])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /OK for firewall, ledger \(bus: nats, firewall: dry-run\)/)
  t.notMatch(r.stdout, /reads/, 'no filter looked up for roles that read no log')
  r = await cli(['config', 'check', '--role', 'watcher', '--config', embedded.config])
  t.equal(r.code, 78)
  t.match(r.stderr, /unknown filter "no-such-filter"/)
})

t.test('given NATS credentials that cannot be read, then the bus.nats key is named, for every role', async t => {
  const dir = await tempDir(t)
  const creds = join(dir, 'missing.creds')
  const { config } = await writeConfig(dir, `bus: { nats: { servers: [nats://127.0.0.1:4222], creds: ${creds} } }\n`)
  let r = await cli(['config', 'check', '--role', 'firewall', '--config', config])
  t.equal(r.code, 78)
  t.match(r.stderr, `bus.nats.creds: cannot read ${creds}: ENOENT`)
  await writeFile(config, (await readFile(config, 'utf8')).replace(`creds: ${creds}`, 'token: { env: BANLEDGER_TEST_UNSET_TOKEN }'))
  r = await cli(['config', 'check', '--role', 'firewall', '--config', config])
  t.equal(r.code, 78)
  t.match(r.stderr, 'bus.nats.token: environment variable BANLEDGER_TEST_UNSET_TOKEN is not set')
})

t.test('given no or another verb, or a bad role, then a usage error', async t => {
  const { config } = await writeConfig(await tempDir(t))
  for (const args of [['config'], ['config', 'show'], ['config', 'check', '--role', 'nope']]) {
    const r = await cli([...args, '--config', config])
    t.equal(r.code, 2, args.join(' '))
  }
  const help = await cli(['config', '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /Usage: banledger config check/)
})
