// filter-test finds its filter: a fail2ban filter in --filter-dir first, a
// built-in of that name when the folder has none, else a clear error.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { cli, tempDir } from '../helpers/cli.js'

const FAILED = 'Nov  2 10:00:02 web1 sshd[4242]: Failed password for root from 192.0.2.7 port 4711 ssh2\n'

t.test('given a filter name', async t => {
  const dir = await tempDir(t)
  const log = join(dir, 'auth.log')
  await writeFile(log, FAILED)
  const filters = join(dir, 'filter.d')
  await mkdir(filters)

  await t.test('when --filter-dir has no such file and a built-in has the name, then the built-in runs', async t => {
    const r = await cli(['filter-test', '--now', '1795132800', '--filter-dir', filters, '--filter', 'sshd', '--json', log])
    t.equal(r.code, 0, r.stderr)
    t.match(JSON.parse(r.stdout) as unknown, { line: 1, host: '192.0.2.7' })
  })

  await t.test('when --filter-dir has the file, then it runs, not the built-in', async t => {
    await writeFile(join(filters, 'sshd.conf'), '[Definition]\nfailregex = ^\\s*\\S+ sshd\\[\\d+\\]: Failed \\S+ for \\S+ from <HOST> port 4711\n')
    const r = await cli(['filter-test', '--filter-dir', filters, log, 'sshd'])
    t.equal(r.code, 0, r.stderr)
    t.ok(r.stdout.includes(`failregex filter file : ${join(filters, 'sshd.conf')}\n`), 'the file in --filter-dir')
    t.match(r.stdout, /Lines: 1 lines, 0 ignored, 1 matched, 0 missed/)
  })

  await t.test('when neither exists, then a usage error names the file looked for', async t => {
    const r = await cli(['filter-test', '--filter-dir', filters, log, 'no-such-filter'])
    t.equal(r.code, 2)
    t.ok(r.stderr.includes(`no filter "no-such-filter": not built in, and no ${join(filters, 'no-such-filter.conf')}`), r.stderr)
  })
})
