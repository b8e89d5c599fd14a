import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ConfigError } from '../../ops/config/config-error.js'
import type { ConfigProblem } from '../../ops/config/config-error.js'
import { loadConfig, parseConfig } from '../../ops/config/load-config.js'
import type { Config, JailConfig } from '../../ops/config/types.js'

const S = 1000
const M = 60 * S
const H = 60 * M
const D = 24 * H

const FILE = '/etc/banledger/banledger.yaml'
const parse = (text: string, hostname = 'thishost'): Config => parseConfig(text, FILE, { hostname })

function jail(config: Config, name: string): JailConfig {
  const found = config.jails.find((j) => j.name === name)
  if (found === undefined) throw new Error(`no jail ${name}`)
  return found
}

/** The ConfigError parseConfig throws for `text`. */
function failure(text: string, hostname = 'thishost'): ConfigError {
  try {
    parse(text, hostname)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

const problem = (err: ConfigError, path: string): ConfigProblem | undefined => err.problems.find((p) => p.path === path)

const MINIMAL = `
jails:
  ssh:
    filter: sshd
    logpath: /var/log/auth.log
`

t.test('a minimal file gets the seed defaults', async (t) => {
  const config = parse(MINIMAL)
  t.same(config, {
    path: FILE,
    dataDir: '/var/lib/banledger',
    filterDirs: ['/etc/fail2ban/filter.d'],
    host: 'thishost',
    ignoreip: ['127.0.0.1/8', '::1'],
    ignoreSelf: true,
    logLevel: 'info',
    watcher: { maxLineBytes: 8192, pollInterval: 250 },
    notify: { digestWindow: 0, channels: [] },
    firewall: { backend: 'auto', checkInterval: 60_000, maxelem: 65_536, ipv6Escalate: null },
    bus: { kind: 'embedded' },
    maxClockSkew: 5 * 60_000,
    jails: [{
      name: 'ssh',
      filter: 'sshd',
      successFilter: null,
      filterOptions: {},
      backend: 'auto',
      logpath: ['/var/log/auth.log'],
      journalmatch: null,
      ports: [],
      protocol: 'tcp',
      ignoreip: [],
      policy: {
        maxretry: 3,
        findtime: 48 * H,
        bantime: 5 * D,
        grace: 48 * H,
        graceMaxFailures: 10,
        successLiftsBan: true,
        increment: null,
      },
    }],
  })
})

t.test('the seed configuration, written out in full', async (t) => {
  const config = parse(`
data_dir: /var/lib/banledger
host: web1
ignoreip: 127.0.0.1/8 192.168.1.0/24 ::1
ignore_self: false
log_level: debug
watcher: { max_line_bytes: 4096, poll_interval: 1s }
defaults: { maxretry: 3, findtime: 48h, bantime: 5d }
jails:
  ssh:
    enabled: true
    filter: sshd
    success_filter: sshd-success
    logpath: [/var/log/auth.log]
    ports: "22,443"
    protocol: tcp
    ignoreip: [10.0.0.0/8]
    maxretry: 2
    grace: 1d
    grace_max_failures: 20
    success_lifts_ban: false
    bantime_increment: { factor: 2, max: 30d }
`)
  t.equal(config.host, 'web1')
  t.same(config.ignoreip, ['127.0.0.1/8', '192.168.1.0/24', '::1'], 'a fail2ban-style string')
  t.equal(config.ignoreSelf, false)
  t.equal(config.logLevel, 'debug')
  t.same(config.watcher, { maxLineBytes: 4096, pollInterval: 1000 })
  t.same(jail(config, 'ssh'), {
    name: 'ssh',
    filter: 'sshd',
    successFilter: 'sshd-success',
    filterOptions: {},
    backend: 'auto',
    logpath: ['/var/log/auth.log'],
    journalmatch: null,
    ports: [22, 443],
    protocol: 'tcp',
    ignoreip: ['10.0.0.0/8'],
    policy: {
      maxretry: 2,
      findtime: 48 * H,
      bantime: 5 * D,
      grace: D,
      graceMaxFailures: 20,
      successLiftsBan: false,
      increment: { factor: 2, max: 30 * D },
    },
  })
})

t.test('jail values override defaults, which override built-ins', async (t) => {
  const config = parse(`
defaults:
  maxretry: 5
  bantime: 1w
  bantime_increment: { factor: 1.5, max: 8w }
jails:
  ssh:
    filter: sshd
    logpath: /var/log/auth.log
    maxretry: 2
    bantime_increment: null
  mail:
    filter: postfix
    logpath: /var/log/mail.log
    protocol: udp
`)
  const ssh = jail(config, 'ssh').policy
  const mail = jail(config, 'mail').policy
  t.equal(ssh.maxretry, 2, 'jail over defaults')
  t.equal(mail.maxretry, 5, 'defaults over built-in')
  t.equal(ssh.bantime, 7 * D)
  t.equal(mail.findtime, 48 * H, 'built-in')
  t.equal(mail.graceMaxFailures, 10, 'built-in')
  t.equal(ssh.increment, null, 'a jail turns the defaults increment off with null')
  t.same(mail.increment, { factor: 1.5, max: 56 * D })
  t.equal(jail(config, 'mail').protocol, 'udp')
  t.same(config.jails.map((j) => j.name), ['ssh', 'mail'], 'file order')
})

t.test('grace defaults to the effective findtime (R7)', async (t) => {
  const config = parse(`
defaults: { findtime: 1d }
jails:
  a: { filter: sshd, logpath: /a }
  b: { filter: sshd, logpath: /b, findtime: 3h }
  c: { filter: sshd, logpath: /c, findtime: 3h, grace: 10m }
  d: { filter: sshd, logpath: /d, grace: 0 }
`)
  t.equal(jail(config, 'a').policy.grace, D, 'from the defaults findtime')
  t.equal(jail(config, 'b').policy.grace, 3 * H, 'a jail that overrides findtime only')
  t.equal(jail(config, 'c').policy.grace, 10 * M, 'set explicitly')
  t.equal(jail(config, 'd').policy.grace, 0, '0 turns the window off')

  const withDefaultGrace = parse(`
defaults: { grace: 2h }
jails:
  a: { filter: sshd, logpath: /a, findtime: 3h }
`)
  t.equal(jail(withDefaultGrace, 'a').policy.grace, 2 * H, 'a grace under defaults wins over findtime')
})

t.test('durations: units, combinations, plain seconds', async (t) => {
  const config = parse(`
jails:
  a:
    filter: sshd
    logpath: /a
    findtime: 1h30m
    bantime: 86400
    grace: "600"
`)
  const policy = jail(config, 'a').policy
  t.equal(policy.findtime, 90 * M)
  t.equal(policy.bantime, D, 'a YAML number is seconds')
  t.equal(policy.grace, 10 * M, 'a digit string is seconds')

  const err = failure(`
watcher: { poll_interval: 5ms }
jails:
  a: { filter: sshd, logpath: /a, findtime: 0, bantime: -5m, grace: soon }
`)
  t.match(problem(err, 'watcher.poll_interval')?.message, 'expected a duration from 10ms to 1m, got "5ms"')
  t.match(problem(err, 'jails.a.findtime')?.message, 'expected a duration longer than zero, got 0')
  t.match(problem(err, 'jails.a.bantime')?.message, 'cannot be negative, got "-5m"')
  t.match(problem(err, 'jails.a.grace')?.message, 'expected a duration like 30s, 10m, 48h, 5d, 1w or 1h30m')
})

t.test('ports: numbers, names, fail2ban strings', async (t) => {
  const config = parse(`
jails:
  a: { filter: sshd, logpath: /a, ports: "22,443" }
  b: { filter: sshd, logpath: /b, ports: "ssh, https" }
  c: { filter: sshd, logpath: /c, ports: 2222 }
  d: { filter: sshd, logpath: /d, ports: [smtp, 587, "993", SUBMISSION, imaps] }
  e: { filter: sshd, logpath: /e, ports: 22 443 }
`)
  t.same(jail(config, 'a').ports, [22, 443])
  t.same(jail(config, 'b').ports, [22, 443])
  t.same(jail(config, 'c').ports, [2222])
  t.same(jail(config, 'd').ports, [25, 587, 993], 'names, digit strings, duplicates once')
  t.same(jail(config, 'e').ports, [22, 443])

  const err = failure(`
jails:
  a: { filter: sshd, logpath: /a, ports: "22,sshh" }
  b:
    filter: sshd
    logpath: /b
    ports: [0, 65536, "1000:2000", 22.5]
`)
  t.match(problem(err, 'jails.a.ports')?.message, 'not a port: "sshh" (expected a number from 1 to 65535 or one of ssh,')
  t.match(problem(err, 'jails.b.ports[0]'), { line: 7, value: 0 })
  t.ok(problem(err, 'jails.b.ports[1]'))
  t.match(problem(err, 'jails.b.ports[2]')?.message, 'port ranges are not supported')
  t.ok(problem(err, 'jails.b.ports[3]'))
})

t.test('ignoreip: addresses and CIDR ranges, IPv4 and IPv6 (R9)', async (t) => {
  const config = parse(`
ignoreip:
  - 10.0.0.0/8
  - "2001:DB8:0:0::/32"
  - ::ffff:192.0.2.1
  - 10.0.0.0/8
jails:
  a: { filter: sshd, logpath: /a, ignoreip: "203.0.113.7, 198.51.100.0/24" }
`)
  t.same(config.ignoreip, ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1'], 'canonical, each once')
  t.same(jail(config, 'a').ignoreip, ['203.0.113.7', '198.51.100.0/24'])
  t.same(parse(`ignoreip: []\n${MINIMAL}`).ignoreip, [], 'an empty list replaces the default')

  const err = failure(`
ignoreip: [127.0.0.1/8, 192.168.1.300/24, "::1", example.com, 10.0.0.0/33, 010.0.0.1]
${MINIMAL}`)
  t.match(err.problems, [
    { path: 'ignoreip[1]', line: 2, message: 'not an address or CIDR range: "192.168.1.300/24"', value: '192.168.1.300/24' },
    { path: 'ignoreip[3]', line: 2, message: 'not an address or CIDR range: "example.com"' },
    { path: 'ignoreip[4]', line: 2, message: 'not an address or CIDR range: "10.0.0.0/33"' },
    { path: 'ignoreip[5]', line: 2, message: 'not an address or CIDR range: "010.0.0.1"', value: '010.0.0.1' },
  ])
  t.equal(err.problems.length, 4)
})

t.test('relative paths resolve against the config file folder', async (t) => {
  const config = parseConfig(`
data_dir: state
jails:
  a: { filter: sshd, logpath: [logs/auth.log, /var/log/secure, ../x.log] }
`, '/srv/banledger/etc/banledger.yaml', { hostname: 'h' })
  t.equal(config.path, '/srv/banledger/etc/banledger.yaml')
  t.equal(config.dataDir, '/srv/banledger/etc/state')
  t.same(jail(config, 'a').logpath, ['/srv/banledger/etc/logs/auth.log', '/var/log/secure', '/srv/banledger/x.log'])

  const err = failure(`
data_dir: ~/banledger
jails:
  a: { filter: sshd, logpath: ["", "~/auth.log"] }
`)
  t.match(problem(err, 'data_dir')?.message, '~ is not expanded')
  t.match(problem(err, 'jails.a.logpath[0]')?.message, 'expected a file path, got ""')
  t.match(problem(err, 'jails.a.logpath[1]')?.message, '~ is not expanded')
})

t.test('disabled jails are checked but left out', async (t) => {
  const config = parse(`
jails:
  ssh: { filter: sshd, logpath: /a }
  web: { enabled: false, filter: apache-auth, logpath: /b }
`)
  t.same(config.jails.map((j) => j.name), ['ssh'])
  const err = failure(`
jails:
  ssh: { filter: sshd, logpath: /a }
  web: { enabled: false, filter: apache-auth, logpath: /b, maxretry: 0 }
`)
  t.ok(problem(err, 'jails.web.maxretry'))
})

t.test('the host name default', async (t) => {
  t.equal(parse(MINIMAL, 'box.example.org').host, 'box.example.org')
  t.equal(parse(`host: web1\n${MINIMAL}`, '').host, 'web1', 'host: wins over the machine name')
  const err = failure(MINIMAL, '')
  t.match(problem(err, 'host')?.message, 'set host: in the configuration')
  t.match(problem(failure(`host: "web 1"\n${MINIMAL}`), 'host'), { line: 1, message: /got "web 1"/ })
})

t.test('several problems are reported together, with paths and lines', async (t) => {
  const text = [
    'data_dir: /var/lib/banledger', // 1
    'ignoreip: [127.0.0.1/8, 192.168.1.300/24]', // 2
    'log_level: loud', // 3
    'jails:', // 4
    '  ssh:', // 5
    '    filter: sshd', // 6
    '    logpath: /var/log/auth.log', // 7
    '    maxretry: abc', // 8
    '    colour: red', // 9
    '  web:', // 10
    '    logpath: /var/log/nginx/error.log', // 11
    '    protocol: sctp', // 12
  ].join('\n')
  const err = failure(text)
  t.equal(err.code, 'BANLEDGER_CONFIG_INVALID')
  t.equal(err.name, 'ConfigError')
  t.ok(err instanceof Error)
  t.equal(err.file, FILE)
  t.match(err.problems, [
    { path: 'ignoreip[1]', line: 2, message: 'not an address or CIDR range: "192.168.1.300/24"' },
    { path: 'log_level', line: 3, message: 'expected one of fatal, error, warn, info, debug, trace, got "loud"', value: 'loud' },
    { path: 'jails.ssh.maxretry', line: 8, message: 'expected an integer from 1 to 1000, got "abc"', value: 'abc' },
    { path: 'jails.ssh.colour', line: 9, message: 'unknown key' },
    { path: 'jails.web.filter', line: 10, message: /^missing; expected a filter name/ },
    { path: 'jails.web.protocol', line: 12, message: 'expected tcp or udp, got "sctp"' },
  ])
  t.equal(err.problems.length, 6)
  t.equal(err.message, [
    `invalid configuration ${FILE}:`,
    '  line 2: ignoreip[1]: not an address or CIDR range: "192.168.1.300/24"',
    '  line 3: log_level: expected one of fatal, error, warn, info, debug, trace, got "loud"',
    '  line 8: jails.ssh.maxretry: expected an integer from 1 to 1000, got "abc"',
    '  line 9: jails.ssh.colour: unknown key',
    `  line 10: jails.web.filter: ${problem(err, 'jails.web.filter')?.message ?? ''}`,
    '  line 12: jails.web.protocol: expected tcp or udp, got "sctp"',
  ].join('\n'))
  t.ok(Object.isFrozen(err.problems))
})

t.test('unknown keys everywhere, with a hint for near misses', async (t) => {
  const err = failure(`
colour: red
watcher: { poll: 1s }
defaults:
  maxRetry: 3
  filter: sshd
jails:
  ssh:
    filter: sshd
    logpath: /a
    port: 22
    bantime_increment: { factor: 2, max: 30d, rndtime: 5m }
`)
  t.match(err.problems, [
    { path: 'colour', line: 2, message: 'unknown key' },
    { path: 'watcher.poll', line: 3, message: 'unknown key' },
    { path: 'defaults.maxRetry', line: 5, message: 'unknown key (did you mean "maxretry"?)' },
    { path: 'defaults.filter', line: 6, message: 'unknown key' },
    { path: 'jails.ssh.port', line: 11, message: 'unknown key (did you mean "ports"?)' },
    { path: 'jails.ssh.bantime_increment.rndtime', line: 12, message: 'unknown key' },
  ])
  t.equal(err.problems.length, 6)
})

t.test('jails: names, presence, shape', async (t) => {
  t.match(failure('log_level: info').problems, [{ path: 'jails', message: /^missing; expected at least one jail/ }])
  t.match(failure('jails:').problems, [{ path: 'jails', line: 1, message: /^empty; expected at least one jail/ }])
  t.match(failure('jails: {}').problems, [{ path: 'jails', line: 1, message: /^expected at least one jail/ }])
  t.match(failure('jails: [ssh]').problems, [{ path: 'jails', message: /expected a mapping of jail names/ }])
  t.match(failure('jails:\n  ssh:\n').problems, [{ path: 'jails.ssh', line: 2, message: /expected a mapping of jail settings.*got null/ }])
  const err = failure(`
jails:
  SSH Server: { filter: sshd, logpath: /a }
  ok: { filter: "bad filter!", logpath: /a }
`)
  t.match(err.problems, [
    { path: 'jails["SSH Server"]', line: 3, message: /^not a valid jail name/ },
    { path: 'jails.ok.filter', line: 4, message: /^expected a filter name.*got "bad filter!"/ },
  ])
})

t.test('bantime_increment: max must cover the bantime', async (t) => {
  const err = failure(`
defaults:
  bantime_increment: { factor: 2, max: 1d }
jails:
  a: { filter: sshd, logpath: /a, bantime: 2d }
  b: { filter: sshd, logpath: /b, bantime: 1h, bantime_increment: { factor: 2, max: 30m } }
  c: { filter: sshd, logpath: /c, bantime: 1h, bantime_increment: { factor: 101 } }
`)
  t.match(err.problems, [
    { path: 'defaults.bantime_increment.max', line: 3, message: 'expected at least the bantime of jail a (2d), got "1d"' },
    { path: 'jails.b.bantime_increment.max', line: 6, message: 'expected at least the bantime (1h), got "30m"' },
    { path: 'jails.c.bantime_increment.factor', line: 7, message: 'expected a number from 1 to 100, got 101' },
    { path: 'jails.c.bantime_increment.max', line: 7, message: /^missing; / },
  ])
})

t.test('YAML syntax errors become problems with a line', async (t) => {
  const err = failure('jails:\n  ssh:\n    filter: sshd\n    ports: [22, 443\n  web: {}\n')
  t.equal(err.code, 'BANLEDGER_CONFIG_INVALID')
  t.equal(err.problems.length, 1)
  t.match(err.problems[0], { path: '', line: 5, message: /^YAML: / })
  t.match(err.message, /^invalid configuration \/etc\/banledger\/banledger.yaml:\n {2}line 5: YAML: /)

  t.match(failure('jails: {}\njails: {}\n').problems, [{ line: 2, message: 'YAML: Map keys must be unique' }])
  t.match(failure('a: 1\n---\nb: 2\n').problems, [{ line: 2, message: /several YAML documents/ }])
  t.match(failure('').problems, [{ path: '', message: /the file is empty/ }])
  t.match(failure('just text').problems, [{ path: '', line: 1, message: /expected a mapping.*got "just text"/ }])
})

t.test('the result is deeply frozen', async (t) => {
  const config = parse(`
defaults: { bantime_increment: { factor: 2, max: 30d } }
jails:
  ssh: { filter: sshd, logpath: /a, ports: 22 }
`)
  const ssh = jail(config, 'ssh')
  // ES modules run in strict mode: assigning to a frozen object throws.
  t.throws(() => { (config as { host: string }).host = 'other' }, TypeError)
  t.throws(() => { (config.watcher as { pollInterval: number }).pollInterval = 1 }, TypeError)
  t.throws(() => { (config.jails as JailConfig[]).push(ssh) }, TypeError)
  t.throws(() => { (ssh.policy as { maxretry: number }).maxretry = 99 }, TypeError)
  t.throws(() => { (ssh.policy.increment as { factor: number }).factor = 3 }, TypeError)
  t.throws(() => { (ssh.ports as number[])[0] = 23 }, TypeError)
  t.throws(() => { (config.ignoreip as string[]).pop() }, TypeError)
  t.equal(ssh.policy.maxretry, 3)
})

t.test('loadConfig reads a file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banledger-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))

  const file = join(dir, 'banledger.yaml')
  await writeFile(file, `data_dir: state\n${MINIMAL}`)
  const config = await loadConfig(file, { hostname: 'from-test' })
  t.equal(config.path, file)
  t.equal(config.dataDir, join(dir, 'state'))
  t.equal(config.host, 'from-test')

  const bad = join(dir, 'bad.yaml')
  await writeFile(bad, 'jails: 3\n')
  await t.rejects(loadConfig(bad), { name: 'ConfigError', code: 'BANLEDGER_CONFIG_INVALID', problems: [{ path: 'jails', line: 1 }] })

  const latin1 = join(dir, 'latin1.yaml')
  await writeFile(latin1, Buffer.from([0x68, 0x6f, 0x73, 0x74, 0x3a, 0x20, 0xe9, 0x0a]))
  await t.rejects(loadConfig(latin1), { code: 'BANLEDGER_CONFIG_INVALID', message: /not UTF-8/ })
})

t.test('an unreadable file gives BANLEDGER_CONFIG_UNREADABLE', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banledger-config-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))

  const missing = join(dir, 'nope.yaml')
  const err = await loadConfig(missing).then(
    () => { throw new Error('expected a rejection') },
    (e: unknown) => e,
  )
  t.ok(err instanceof ConfigError)
  t.match(err, {
    name: 'ConfigError',
    code: 'BANLEDGER_CONFIG_UNREADABLE',
    file: missing,
    problems: [],
    message: `cannot read configuration ${missing}: ENOENT: no such file or directory, open '${missing}'`,
    cause: { code: 'ENOENT' },
  })

  await t.rejects(loadConfig(dir), { code: 'BANLEDGER_CONFIG_UNREADABLE', message: /not a regular file/ }, 'a directory')
})

t.test('firewall: backend, check interval and maxelem, checked', async t => {
  const ok = parseConfig(`firewall: { backend: nftables, check_interval: 30s, maxelem: 200000 }
jails: { ssh: { filter: sshd, logpath: /var/log/auth.log } }
`, '/etc/banledger/banledger.yaml', { hostname: 'h' })
  t.same(ok.firewall, { backend: 'nftables', checkInterval: 30_000, maxelem: 200_000, ipv6Escalate: null })
  const bad = (() => {
    try {
      parseConfig(`firewall: { backend: pf, check_interval: 1ms, colour: red }
jails: { ssh: { filter: sshd, logpath: /var/log/auth.log } }
`, '/etc/banledger/banledger.yaml', { hostname: 'h' })
    } catch (err) {
      return (err as Error).message
    }
    return ''
  })()
  t.match(bad, /firewall\.backend: expected one of auto, nftables, ipset, iptables, dry-run/)
  t.match(bad, /firewall\.check_interval/)
  t.match(bad, /firewall\.colour: unknown key/)
})

t.test('firewall.ipv6_escalate: an integer from 2, or null (the default) for off', async t => {
  const read = (value: string) => parseConfig(`firewall: { ipv6_escalate: ${value} }
jails: { ssh: { filter: sshd, logpath: /var/log/auth.log } }
`, '/etc/banledger/banledger.yaml', { hostname: 'h' }).firewall.ipv6Escalate
  t.equal(read('5'), 5)
  t.equal(read('2'), 2)
  t.equal(read('null'), null)
  for (const bad of ['1', '0', '-3', '2.5', 'yes', '70000', '[5]']) {
    t.throws(() => read(bad), { message: /firewall\.ipv6_escalate: expected an integer from 2 to 65536/ }, bad)
  }
  t.throws(() => read('5, ipv6_escalation: 5'), { message: /firewall\.ipv6_escalation: unknown key/ })
})

t.test('jail names fit the firewall\'s set and chain names (at most 18 characters)', async t => {
  t.throws(() => parseConfig(`jails: { a-very-long-jail-name-x: { filter: sshd, logpath: /l } }
`, '/etc/b.yaml', { hostname: 'h' }), { message: /at most 18 characters/ })
})

t.test('notify: a channel\'s jails must be jails of this file; near misses get a hint', async t => {
  const problems = (text: string): string => {
    try {
      parseConfig(text, '/etc/banledger/banledger.yaml', { hostname: 'h' })
    } catch (err) {
      return (err as Error).message
    }
    return ''
  }
  const bad = problems(`jails: { ssh: { filter: sshd, logpath: /var/log/auth.log } }
notify:
  channels:
    hook: { type: webhook, url: "https://hooks.example.org/x", secret: { env: HOOK }, jails: [ssh, web] }
`)
  t.match(bad, /line 4: notify\.channels\.hook\.jails\[1\]: no jail named "web" in this file/)
  t.match(problems(`jails: { ssh: { filter: sshd, logpath: /var/log/auth.log } }
notify:
  chanels: {}
`), /notify\.chanels: unknown key \(did you mean "channels"\?\)/)
})

t.test('filter_dirs and filter_options (fail2ban filters)', async t => {
  const config = parseConfig(`filter_dirs: [filters, /etc/fail2ban/filter.d]
jails:
  ssh: { filter: sshd, filter_options: { mode: aggressive, maxlines: 2 }, logpath: /var/log/auth.log }
`, '/etc/banledger/banledger.yaml', { hostname: 'h' })
  t.same(config.filterDirs, ['/etc/banledger/filters', '/etc/fail2ban/filter.d'])
  t.same({ ...config.jails[0]?.filterOptions }, { mode: 'aggressive', maxlines: '2' })
  t.throws(() => parseConfig(`jails:
  ssh: { filter: sshd, filter_options: { "bad key": x, mode: [a] }, logpath: /l }
`, '/etc/b.yaml', { hostname: 'h' }), { message: /filter_options/ })
})

t.test('bus: embedded by default, or NATS with its defaults (issue 4)', async (t) => {
  t.same(parse(`bus: embedded\n${MINIMAL}`).bus, { kind: 'embedded' })
  const config = parse(`
bus:
  nats:
    servers: [tls://nats1.example.org:4222, nats://10.0.0.2:4222]
    user: watcher-web1
    password: { env: NATS_PASSWORD }
    tls: { ca_file: /etc/banledger/nats-ca.pem }
max_clock_skew: 30s
${MINIMAL}`)
  t.same(config.bus, {
    kind: 'nats',
    nats: {
      servers: ['tls://nats1.example.org:4222', 'nats://10.0.0.2:4222'],
      user: 'watcher-web1',
      password: { env: 'NATS_PASSWORD' },
      token: null,
      creds: null,
      tls: { caFile: '/etc/banledger/nats-ca.pem', certFile: null, keyFile: null },
      inboxPrefix: null,
      subjectPrefix: 'banledger',
      streamPrefix: 'BANLEDGER',
      eventsMaxAge: 7 * D,
      decisionsMaxAge: 7 * D,
      replicas: 1,
    },
  })
  t.equal(config.maxClockSkew, 30 * S)
})

t.test('bus: a password in the text, two ways to log in, a URL with credentials are refused', async (t) => {
  const err = failure(`
bus:
  nats:
    servers: [nats://admin:hunter2@10.0.0.1:4222]
    user: ledger
    password: hunter2
    token: { env: NATS_TOKEN }
${MINIMAL}`)
  t.match(problem(err, 'bus.nats.servers[0]')?.message, /credentials never in the URL/)
  t.match(problem(err, 'bus.nats.password')?.message, /never written in the config/)
  t.notMatch(JSON.stringify(err.problems), /hunter2/, 'no problem shows the secret')
  const two = failure(`
bus:
  nats:
    servers: nats://10.0.0.1:4222
    token: { env: NATS_TOKEN }
    creds: /etc/banledger/nats.creds
${MINIMAL}`)
  t.match(problem(two, 'bus.nats')?.message, /one way to log in/)
  t.match(problem(failure(`bus: kafka\n${MINIMAL}`), 'bus')?.message, /expected embedded, or a mapping/)
})

t.test('backend: systemd reads the journal: no logpath, an optional journalmatch (issue 3)', async (t) => {
  const config = parse(`
jails:
  ssh: { filter: sshd, backend: systemd }
  mail:
    filter: postfix
    backend: systemd
    journalmatch: "_SYSTEMD_UNIT=postfix@-.service + _SYSTEMD_UNIT=postfix.service SYSLOG_IDENTIFIER=postfix/smtpd"
  alt: { filter: sshd, backend: systemd, journalmatch: [_COMM=sshd, "_COMM=sshd-session + _COMM=sshd"] }
  files: { filter: sshd, backend: auto, logpath: /var/log/auth.log }
`)
  t.match(jail(config, 'ssh'), { backend: 'systemd', logpath: [], journalmatch: null }, 'the filter\'s matches apply')
  t.same(jail(config, 'mail').journalmatch, [
    ['SYSLOG_IDENTIFIER=postfix/smtpd', '_SYSTEMD_UNIT=postfix.service'],
    ['_SYSTEMD_UNIT=postfix@-.service'],
  ], 'groups split on +, terms and groups sorted')
  t.same(jail(config, 'alt').journalmatch, [['_COMM=sshd'], ['_COMM=sshd-session']], 'a list is alternatives; duplicates go')
  t.match(jail(config, 'files'), { backend: 'auto', logpath: ['/var/log/auth.log'], journalmatch: null })
})

t.test('backend, logpath and journalmatch: every conflict is a clear problem', async (t) => {
  const err = failure(`
jails:
  both: { filter: sshd, backend: systemd, logpath: /var/log/auth.log }
  none: { filter: sshd }
  stray: { filter: sshd, logpath: /var/log/auth.log, journalmatch: _COMM=sshd }
  other: { filter: sshd, backend: pyinotify, logpath: /l }
  opts: { filter: sshd, backend: "systemd[journalpath=/x]" }
`)
  t.match(problem(err, 'jails.both.logpath'), { line: 3, message: /backend: systemd reads the systemd journal, not files: remove logpath/ })
  t.match(problem(err, 'jails.none.logpath')?.message, /missing; .*or backend: systemd/)
  t.match(problem(err, 'jails.stray.journalmatch')?.message, /only with backend: systemd/)
  t.match(problem(err, 'jails.other.backend')?.message, /expected auto \(the files in logpath\) or systemd/)
  t.match(problem(err, 'jails.opts.backend')?.message, /options of fail2ban's systemd backend .* not supported/)
  t.equal(err.problems.length, 5, JSON.stringify(err.problems))
})

t.test('journalmatch: FIELD=value terms only, checked strictly', async (t) => {
  const bad: [string, RegExp][] = [
    ['sshd', /"sshd" is not FIELD=value/],
    ['_comm=sshd', /a field name is A-Z, 0-9 and _/],
    ['1FIELD=x', /not starting with a digit/],
    ['_COMM=', /the value is empty/],
    ['"_COMM=sshd"', /is not FIELD=value|a field name/],
    ["_COMM='ssh d'", /quotes and control characters/],
    ['+ _COMM=sshd', /"\+" must stand between two groups/],
    ['_COMM=sshd +', /"\+" must stand between two groups/],
    ['_COMM=sshd + + _COMM=x', /"\+" must stand between two groups/],
    [`_COMM=${'x'.repeat(300)}`, /longer than 256/],
    ['--follow', /is not FIELD=value/],
    ['_COMM=a\u0007b', /control characters/],
  ]
  for (const [text, message] of bad) {
    const err = failure(`jails:\n  ssh: { filter: sshd, backend: systemd, journalmatch: ${JSON.stringify(text)} }\n`)
    t.match(problem(err, 'jails.ssh.journalmatch')?.message, message, text)
  }
  const list = failure(`jails:\n  ssh: { filter: sshd, backend: systemd, journalmatch: [_COMM=sshd, nope, 3] }\n`)
  t.match(problem(list, 'jails.ssh.journalmatch[1]')?.message, /"nope" is not FIELD=value/)
  t.match(problem(list, 'jails.ssh.journalmatch[2]')?.message, /expected journalctl matches/)
  t.match(problem(failure(`jails:\n  ssh: { filter: sshd, backend: systemd, journalmatch: [] }\n`), 'jails.ssh.journalmatch')?.message,
    /expected journalctl matches/)
})
