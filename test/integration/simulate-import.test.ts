// `banledger simulate` (offline, on log time) and `banledger import
// denyhosts` (R11), through the real binary.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { bansJson, cli, sshdLine, tempDir, writeConfig } from '../helpers/cli.js'

const at = (iso: string): Date => new Date(iso)
const fail = (iso: string, ip: string): string => sshdLine(at(iso), `Failed password for root from ${ip} port 4242 ssh2`)
const ok = (iso: string, ip: string): string => sshdLine(at(iso), `Accepted publickey for alice from ${ip} port 4242 ssh2: ED25519 SHA256:abc`)

t.test('simulate --json prints the decisions in time order, with expiries', async t => {
  const dir = await tempDir(t)
  const { config } = await writeConfig(dir)
  const a = join(dir, 'a.log')
  const b = join(dir, 'b.log')
  // Two hosts' logs: failures of one address on both count together.
  await writeFile(a, fail('2026-11-02T10:00:00Z', '203.0.113.7') + fail('2026-11-02T10:00:02Z', '203.0.113.7') +
    'noise that matches nothing\n' + fail('2026-11-03T08:00:00Z', '198.51.100.4'))
  await writeFile(b, fail('2026-11-02T10:00:01Z', '203.0.113.7') + fail('2026-11-03T08:00:01Z', '198.51.100.4') +
    fail('2026-11-03T08:00:02Z', '198.51.100.4') + ok('2026-11-04T09:00:00Z', '198.51.100.4'))
  const r = await cli(['simulate', '--json', '--until', '2026-11-08T00:00:00Z', '--config', config, a, b])
  t.equal(r.code, 0, r.stderr)
  t.same(r.stdout.trim().split('\n').map(l => JSON.parse(l) as unknown), [
    { type: 'ban', jail: 'ssh', ip: '203.0.113.7', at: '2026-11-02T10:00:02.000Z', until: '2026-11-07T10:00:02.000Z', reason: 'maxretry' },
    { type: 'ban', jail: 'ssh', ip: '198.51.100.4', at: '2026-11-03T08:00:02.000Z', until: '2026-11-08T08:00:02.000Z', reason: 'maxretry' },
    { type: 'unban', jail: 'ssh', ip: '198.51.100.4', at: '2026-11-04T09:00:00.000Z', reason: 'success' },
    { type: 'unban', jail: 'ssh', ip: '203.0.113.7', at: '2026-11-07T10:00:02.000Z', reason: 'expired' },
  ])
  const text = await cli(['simulate', '--config', config, a, b])
  t.match(text.stdout, /^2026-11-02T10:00:02\.000Z ban {3}ssh 203\.0\.113\.7 until 2026-11-07T10:00:02\.000Z \(maxretry\)$/m)
  t.notMatch(text.stdout, /expired/, 'without --until, expiries after the last line are not printed')
})

t.test('simulate: the seed scenario never bans (R3, R7)', async t => {
  const dir = await tempDir(t)
  const { config } = await writeConfig(dir)
  const log = join(dir, 'auth.log')
  const ip = '192.0.2.10'
  await writeFile(log, ok('2026-11-01T08:00:00Z', ip) + fail('2026-11-01T09:00:00Z', ip) + fail('2026-11-02T09:00:00Z', ip) +
    fail('2026-11-02T20:00:00Z', ip) + ok('2026-11-03T07:59:00Z', ip) + fail('2026-11-03T08:01:00Z', ip) + fail('2026-11-03T09:00:00Z', ip))
  const r = await cli(['simulate', '--json', '--config', config, log])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, '', 'no decision at all')
})

t.test('simulate: unreadable log and bad times are clear errors', async t => {
  const dir = await tempDir(t)
  const { config } = await writeConfig(dir)
  const r = await cli(['simulate', '--config', config, join(dir, 'nope.log')])
  t.equal(r.code, 2)
  t.match(r.stderr, /cannot read .*nope\.log/)
  const r2 = await cli(['simulate', '--until', 'tomorrow', '--config', config, join(dir, 'auth.log')])
  t.equal(r2.code, 2)
  t.match(r2.stderr, /--until: expected an ISO-8601 time/)
})

t.test('import denyhosts keeps original times, skips expired and foreign entries, is idempotent', async t => {
  const dir = await tempDir(t)
  const { config } = await writeConfig(dir)
  const deny = join(dir, 'hosts.deny')
  const asctime = (d: Date): string => d.toString().replace(/^(\w{3}) (\w{3}) (\d{2}) (\d{4}) ([\d:]{8}).*$/, (_m, w, mo, dd, y, hms) => `${w} ${mo} ${String(Number(dd)).padStart(2, ' ')} ${hms} ${y}`)
  const recent = new Date(Math.floor(Date.now() / 1000) * 1000 - 24 * 3600 * 1000)
  await writeFile(deny, [
    '# /etc/hosts.deny',
    `# DenyHosts: ${asctime(recent)} | sshd: 198.51.100.30`,
    'sshd: 198.51.100.30',
    '# DenyHosts: Sun Oct 19 08:19:25 2014 | sshd: 222.186.56.49',
    'sshd: 222.186.56.49',
    'sshd: 198.51.100.31',
    'vsftpd: 198.51.100.32',
    'sshd: .example.com',
    '',
  ].join('\n'))
  const r = await cli(['import', 'denyhosts', deny, '--jail', 'ssh', '--config', config])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /imported 198\.51\.100\.30: banned /)
  t.match(r.stdout, /skipped 222\.186\.56\.49 .*expired/)
  t.match(r.stdout, /imported 198\.51\.100\.31/)
  t.match(r.stdout, /skipped line 7: .*vsftpd/)
  t.match(r.stdout, /2 imported, 3 skipped/)
  const bans = await bansJson(config)
  const b30 = bans.find(b => b.ip === '198.51.100.30')
  t.equal(b30?.reason, 'import')
  t.equal(b30?.until, new Date(recent.getTime() + 5 * 24 * 3600 * 1000).toISOString(), 'the original time + bantime')
  const again = await cli(['import', 'denyhosts', deny, '--jail', 'ssh', '--config', config])
  t.match(again.stdout, /0 imported/)
  t.match(again.stdout, /already imported/)
})
