// filter-test dates lines in a second thread (ops/cli/log-reading/): what it
// prints must be what it prints with --one-thread, byte for byte. A filter
// whose failregex takes every line whole as its id prints, for each line,
// its date and its text without the date: so the two runs agree on both for
// every line. Checked with each datepattern of fail2ban's stock filters over
// fail2ban's sample logs (the default templates over all of them), and with
// the stock sshd filter over the bench generator's log.
process.env['TZ'] = 'Europe/Zurich'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { readFilter } from '../../services/watcher/fail2ban/filter-reader.js'
import { authLog } from '../bench/auth-log-generator.js'
import { cli, tempDir } from '../helpers/cli.js'
import { fail2banFiles, fail2banUnavailable } from '../helpers/fail2ban-files.js'

const NOW = '1124013600' // fail2ban's tests' now
const both = async (args: readonly string[]): Promise<[string, string]> => {
  const [two, one] = await Promise.all([cli(['filter-test', '--now', NOW, ...args]), cli(['filter-test', '--one-thread', '--now', NOW, ...args])])
  if (two.code !== 0 || one.code !== 0) throw new Error(`filter-test failed: ${two.stderr}${one.stderr}`)
  return [two.stdout, one.stdout]
}

/** A filter file: every line's text (its date removed) is its failure id. */
const everyLine = (datepattern: string | null): string =>
  `[Definition]\nfailregex = ^<F-ID>.+</F-ID>$\n${datepattern === null ? '' : `datepattern = ${datepattern.replaceAll('%', '%%').split('\n').join('\n              ')}\n`}`

t.test('given the stock filters\' datepatterns and fail2ban\'s sample logs', async t => {
  const files = await fail2banFiles()
  if (files === null) {
    if (process.env['CI'] === 'true') t.fail(`fail2ban files unavailable in CI: ${fail2banUnavailable}`)
    else t.comment(`SKIP: fail2ban files unavailable: ${fail2banUnavailable}`)
    return
  }
  const dir = await tempDir(t)
  const samples = new Set((await readdir(files.logsDir, { withFileTypes: true })).filter(e => e.isFile()).map(e => e.name))
  /** datepattern -> the sample logs of the filters that use it */
  const byPattern = new Map<string | null, string[]>([[null, [...samples]]])
  for (const name of (await readdir(files.filterDir)).filter(f => f.endsWith('.conf')).map(f => f.slice(0, -5))) {
    let datepattern: string | null
    try {
      datepattern = (await readFilter(files.filterDir, name)).datepattern
    } catch {
      continue // the parts of other filters (common.conf...)
    }
    if (datepattern === null || !samples.has(name)) continue
    byPattern.set(datepattern, [...(byPattern.get(datepattern) ?? []), name])
  }
  t.ok(byPattern.size >= 10, `${byPattern.size} datepatterns with sample logs`)
  let k = 0
  for (const [datepattern, logs] of byPattern) {
    const at = join(dir, String(k++))
    await mkdir(at)
    await writeFile(join(at, 'lines.conf'), everyLine(datepattern))
    const log = join(at, 'samples.log')
    await writeFile(log, (await Promise.all(logs.sort().map(l => readFile(join(files.logsDir, l))))).map(b => b.toString('latin1')).join('\n'), 'latin1')
    const [two, one] = await both(['--json', log, join(at, 'lines.conf')])
    const dated = two.split('\n').filter(l => l.includes('"time":"')).length
    t.ok(dated > 0, `${JSON.stringify(datepattern)}: ${dated} lines dated`)
    t.equal(two, one, `${JSON.stringify(datepattern)}: the same output in both modes (${logs.length} sample logs)`)
  }
})

t.test('given the stock sshd filter and 100,000 lines of the bench\'s log', async t => {
  const files = await fail2banFiles()
  if (files === null) return // said above
  const dir = await tempDir(t)
  const log = join(dir, 'auth.log')
  await writeFile(log, `${[...authLog(100_000, 7)].join('\n')}\n`)
  const [two, one] = await both(['--filter-dir', files.filterDir, '--filter', 'sshd', '--json', log])
  t.ok(two.split('\n').length > 50_000, 'failures found')
  t.equal(two, one, 'the same --json output in both modes')
  const [twoText, oneText] = await both(['--filter-dir', files.filterDir, log, 'sshd'])
  const report = (s: string): string => s.replace(/\[processed in .*\]/, '')
  t.equal(report(twoText), report(oneText), 'the same report (counts, regex hits, date templates) in both modes')
  t.match(twoText, /Date template hits:\n\| {2}\[\d+\] /, 'the date templates used, from the dating thread')
})

t.test('given a log the dating thread cannot read', async t => {
  const dir = await tempDir(t)
  const r = await cli(['filter-test', dir, 'fail from <HOST>$'])
  t.equal(r.code, 2, 'a usage error')
  t.match(r.stderr, `cannot read ${dir}: EISDIR`)
})
