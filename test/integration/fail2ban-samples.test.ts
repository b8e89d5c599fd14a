// Every stock fail2ban filter (fetched at test time, never stored here: GPL)
// goes through our reader, tag expansion and regex translation.
import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { fail2banFiles, fail2banUnavailable } from '../helpers/fail2ban-files.js'
import { readFilter, type FilterDefinition } from '../../services/watcher/fail2ban/filter-reader.js'
import { expandTags } from '../../services/watcher/fail2ban/tags.js'
import { translatePythonRegex } from '../../services/watcher/fail2ban/python-regex.js'

/** Filters that must compile completely, in every mode they define. */
const REQUIRED = ['sshd', 'apache-auth', 'apache-badbots', 'nginx-http-auth', 'postfix', 'dovecot']
/** Include-only files: fail2ban cannot load them alone either (they use options their includer sets). */
const PARTS = new Set(['selinux-common'])

type Tally = { ok: number; failed: string[]; risky: number }

function compileAll(f: FilterDefinition, tally: Tally, label: string): void {
  const multiline = f.maxlines > 1
  const regexes = [...f.failregex, ...f.ignoreregex, ...(f.prefregex === null ? [] : [f.prefregex])]
  for (const r of regexes) {
    try {
      const tr = translatePythonRegex(expandTags(r, { useDns: f.options['usedns'] ?? 'warn' }), { multiline })
      tally.ok++
      if (tr.risks.length > 0) tally.risky++
    } catch (e) {
      tally.failed.push(`${label}: ${(e as Error).message}`)
    }
  }
}

/** The modes a filter defines: the values X of its `...-X` option names
 *  that `<...-<mode>>` can select, found by reading with each candidate. */
function modesOf(f: FilterDefinition, text: string): string[] {
  const modes = new Set<string>()
  if (f.options['mode'] === undefined && !/<[\w-]*<mode>/.test(text)) return []
  for (const m of text.matchAll(/^([\w-]+)-(\w+)(?:-\w+)?\s*=/gm)) if (text.includes(`${m[1]}-<mode>`)) modes.add(m[2] ?? '')
  return [...modes]
}

t.test('given the stock fail2ban filters', async (t) => {
  const files = await fail2banFiles()
  if (files === null) {
    if (process.env['CI'] === 'true') t.fail(`fail2ban files unavailable in CI: ${fail2banUnavailable}`)
    else t.comment(`SKIP: fail2ban files unavailable: ${fail2banUnavailable}`)
    return
  }
  const names = (await readdir(files.filterDir)).filter((f) => f.endsWith('.conf')).map((f) => f.slice(0, -5)).sort()
  t.ok(names.length >= 90, `${names.length} filters found`)
  const all: Tally = { ok: 0, failed: [], risky: 0 }
  const unreadable: string[] = []
  for (const name of names) {
    const text = await readFile(`${files.filterDir}/${name}.conf`, 'utf8')
    let base: FilterDefinition
    try {
      base = await readFilter(files.filterDir, name)
    } catch (e) {
      if (!PARTS.has(name)) unreadable.push(`${name}: ${(e as Error).message}`)
      continue
    }
    const tally: Tally = { ok: 0, failed: [], risky: 0 }
    compileAll(base, tally, name)
    const modes = modesOf(base, text)
    for (const mode of modes) compileAll(await readFilter(files.filterDir, name, { mode }), tally, `${name}[mode=${mode}]`)
    all.ok += tally.ok
    all.risky += tally.risky
    all.failed.push(...tally.failed)
    if (REQUIRED.includes(name)) {
      t.same(tally.failed, [], `${name} compiles completely (${tally.ok} regexes, modes: ${modes.join(', ') || 'none'})`)
      if (name === 'sshd') t.ok(modes.includes('aggressive') && modes.includes('ddos') && modes.includes('extra'), 'sshd modes found')
    }
  }
  t.same(unreadable, [], 'every stock filter reads')
  t.comment(`filters read: ${names.length - unreadable.length - PARTS.size}/${names.length - PARTS.size}; regexes compiled: ${all.ok}/${all.ok + all.failed.length}; with nested unbounded quantifiers: ${all.risky}`)
  for (const f of all.failed) t.comment(`not compiled: ${f}`)
  t.same(all.failed, [], 'every stock regex compiles')
})
