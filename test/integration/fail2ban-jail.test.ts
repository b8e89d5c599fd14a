// Jails with fail2ban's own filter files (S7), through `banledger simulate`
// and `banledger filter-test`: by path, by name in filter_dirs, with
// filter_options; and the built-in apache-badbots extended from the config.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { cli, tempDir } from '../helpers/cli.js'
import { fail2banFiles, fail2banUnavailable } from '../helpers/fail2ban-files.js'

const files = await fail2banFiles()
if (files === null && process.env['CI'] === 'true') throw new Error(`CI must run the fail2ban filter tests: ${fail2banUnavailable}`)
const when = files === null ? { skip: fail2banUnavailable } : {}

const sshd = (at: string, text: string) => `${at} web1 sshd[42]: ${text}\n`

t.test('a jail reads fail2ban\'s stock sshd.conf by path, with filter_options', when, async t => {
  if (files === null) return
  const dir = await tempDir(t)
  const config = join(dir, 'banledger.yaml')
  await writeFile(config, `data_dir: ${join(dir, 'data')}
ignore_self: false
firewall: { backend: dry-run }
jails:
  ssh:
    filter: ${join(files.filterDir, 'sshd.conf')}
    filter_options: { mode: aggressive }
    logpath: [${join(dir, 'auth.log')}]
`)
  const log = join(dir, 'auth.log')
  await writeFile(log, [
    sshd('Nov  2 10:00:00', 'Failed password for root from 203.0.113.9 port 4242 ssh2'),
    sshd('Nov  2 10:00:01', 'Invalid user admin from 203.0.113.9 port 4243'),
    sshd('Nov  2 10:00:02', 'Failed password for invalid user x from 198.51.100.9 port 22 ssh2 from 192.0.2.77 port 1 ssh2'),
    sshd('Nov  2 10:00:03', 'Failed password for root from 203.0.113.9 port 4244 ssh2'),
  ].join(''))
  const r = await cli(['simulate', '--json', '--now', '2026-11-20T00:00:00Z', '--config', config, log])
  t.equal(r.code, 0, r.stderr)
  const decisions = r.stdout.split('\n').filter(Boolean).map(l => JSON.parse(l) as { type: string; ip: string })
  t.same(decisions.map(d => `${d.type} ${d.ip}`), ['ban 203.0.113.9'], 'three failures of one address ban it; no injected address')

  const ft = await cli(['filter-test', '--now', '1795132800', '--filter-dir', files.filterDir, '--filter', 'sshd', '--filter-opt', 'mode=aggressive', '--json', log])
  t.equal(ft.code, 0, ft.stderr)
  const lines = ft.stdout.split('\n').filter(Boolean).map(l => JSON.parse(l) as { line: number; host: string; time: string; user?: string })
  t.same(lines.map(l => l.line), [1, 2, 3, 4])
  t.match(lines[0], { host: '203.0.113.9', user: 'root' })
  t.match(lines[2], { host: '192.0.2.77' }, 'the address after the attacker-chosen user name, never the injected one')
  t.match(lines[0]?.time, /^2026-11-02T10:00:00[+-]\d\d:\d\d$/)
})

t.test('a jail names a fail2ban filter found in filter_dirs; an unknown one is a clear config error', when, async t => {
  if (files === null) return
  const dir = await tempDir(t)
  const config = join(dir, 'banledger.yaml')
  const write = (filter: string) => writeFile(config, `data_dir: ${join(dir, 'data')}
filter_dirs: [${files.filterDir}]
firewall: { backend: dry-run }
jails:
  ftp: { filter: ${filter}, logpath: [${join(dir, 'x.log')}] }
`)
  await writeFile(join(dir, 'x.log'), '')
  await write('vsftpd')
  const ok = await cli(['simulate', '--config', config, join(dir, 'x.log')])
  t.equal(ok.code, 0, ok.stderr)
  await write('no-such-thing')
  const bad = await cli(['simulate', '--config', config, join(dir, 'x.log')])
  t.equal(bad.code, 78)
  t.match(bad.stderr, /jails\.ftp\.filter: unknown filter "no-such-thing"/)
})

t.test('apache-badbots: the built-in list extended with filter_options.badbotscustom', async t => {
  const dir = await tempDir(t)
  const config = join(dir, 'banledger.yaml')
  const log = join(dir, 'access.log')
  await writeFile(config, `data_dir: ${join(dir, 'data')}
firewall: { backend: dry-run }
jails:
  badbots:
    filter: apache-badbots
    filter_options: { badbotscustom: "EvilHarvester|Nasty.Bot" }
    logpath: [${log}]
    maxretry: 1
`)
  const line = (ip: string, agent: string) =>
    `${ip} - - [02/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 123 "-" "${agent}"\n`
  await writeFile(log, line('203.0.113.20', 'Mozilla/5.0 EvilHarvester/2.1') + line('203.0.113.21', 'Nasty.Bot') +
    line('203.0.113.22', 'NastyXBot') + line('203.0.113.23', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0'))
  const r = await cli(['simulate', '--json', '--config', config, log])
  t.equal(r.code, 0, r.stderr)
  t.same(r.stdout.split('\n').filter(Boolean).map(l => (JSON.parse(l) as { ip: string }).ip), ['203.0.113.20', '203.0.113.21'],
    'the extra agents are matched literally (the . in Nasty.Bot is not a wildcard)')
})

t.test('each log file has its own filter state: lines of two files never meet in a multi-line buffer', async t => {
  const dir = await tempDir(t)
  const config = join(dir, 'banledger.yaml')
  await writeFile(join(dir, 'two-lines.conf'), `[Init]
maxlines = 2
[Definition]
failregex = ^\\s*login from <HOST>\\n\\s*denied$
`)
  await writeFile(config, `data_dir: ${join(dir, 'data')}
ignore_self: false
firewall: { backend: dry-run }
jails:
  app:
    filter: ./two-lines.conf
    maxretry: 1
    logpath: [${join(dir, 'a.log')}, ${join(dir, 'b.log')}]
`)
  // a.log ends with a login that its own file never denies; b.log starts
  // with a denial: read through one buffer, they would ban 198.51.100.5.
  await writeFile(join(dir, 'a.log'), '2026-11-02 10:00:00 login from 192.0.2.10\n2026-11-02 10:00:01 denied\n2026-11-02 10:00:02 login from 198.51.100.5\n')
  await writeFile(join(dir, 'b.log'), '2026-11-02 10:00:03 denied\n2026-11-02 10:00:04 login from 192.0.2.20\n2026-11-02 10:00:05 denied\n')
  const r = await cli(['simulate', '--json', '--now', '2026-11-20T00:00:00Z', '--config', config, join(dir, 'a.log'), join(dir, 'b.log')])
  t.equal(r.code, 0, r.stderr)
  const bans = r.stdout.split('\n').filter(Boolean).map(l => (JSON.parse(l) as { type: string; ip: string }))
  t.same(bans.map(d => `${d.type} ${d.ip}`), ['ban 192.0.2.10', 'ban 192.0.2.20'], 'one ban per file, none across them')
})
