// Every stock fail2ban filter (fetched at test time, never stored here: GPL)
// goes through our reader, tag expansion and regex translation; then
// fail2ban's annotated sample logs run through our engine as fail2ban's
// samplestestcase.py checks them (TZ Europe/Zurich, now = 1124013600 s).
process.env['TZ'] = 'Europe/Zurich' // before any Date use
import t from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fail2banFiles, fail2banUnavailable } from '../helpers/fail2ban-files.js'
import { readFilter, type FilterDefinition } from '../../services/watcher/fail2ban/filter-reader.js'
import { expandTags } from '../../services/watcher/fail2ban/tags.js'
import { translatePythonRegex } from '../../services/watcher/fail2ban/python-regex.js'
import { compileFilter, type Fail2banFilter } from '../../services/watcher/fail2ban/filter-engine.js'

const TEST_NOW = 1124013600 * 1000
const TEST_NOW_ISO = '2005-08-14T10:00:00'

type SampleReport = { checked: number; passed: number; skipped: string[]; failures: string[] }

type Opts = Record<string, unknown>
type Block = { name: string; flt: Fail2banFilter; opts: Opts }

/** Evaluates samplestestcase's simple Python conditions (`name == 'x'`,
 *  `opts.get('k') != 'v'`, joined by and/or); undefined when it cannot. */
function evalCondition(expr: string, name: string, opts: Opts): boolean | undefined {
  const ors = expr.split(/\s+or\s+/)
  let any = false
  for (const part of ors) {
    let all = true
    for (const term of part.split(/\s+and\s+/)) {
      const m = /^\s*(name|opts\.get\((['"])([\w.-]+)\2\))\s*(==|!=)\s*(['"])(.*?)\5\s*$/.exec(term)
      if (m === null) return undefined
      const left = m[1] === 'name' ? name : opts[m[3] ?? '']
      const eq = left === m[6]
      if ((m[4] === '==') !== eq) all = false
    }
    if (all) any = true
  }
  return any
}

/** Local "YYYY-MM-DDTHH:MM:SS[.ffffff]" -> ms (process TZ). */
function localIso(t: string): number {
  const m = /^(\d{4})-(\d\d?)-(\d\d?)T(\d\d?):(\d\d?):(\d\d?)(?:\.(\d+))?$/.exec(t)
  if (m === null) return NaN
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))
  return d.getTime() + Math.round(Number(`0.${m[7] ?? '0'}`) * 1000)
}

async function runSamples(filterDir: string, logsDir: string, name: string): Promise<SampleReport> {
  const report: SampleReport = { checked: 0, passed: 0, skipped: [], failures: [] }
  const filters = new Map<string, Fail2banFilter>()
  const make = async (opts: Opts): Promise<Block> => {
    const fltOpts = Object.fromEntries(Object.entries(opts).filter(([k]) => !k.startsWith('test.')).map(([k, v]) => [k, String(v)]))
    const key = `${name}${String(opts['test.filter-name'] ?? (Object.keys(fltOpts).length > 0 ? JSON.stringify(fltOpts) : ''))}`
    let flt = filters.get(key)
    if (flt === undefined) {
      flt = compileFilter(await readFilter(filterDir, name, fltOpts), { checkAllRegex: true, journal: fltOpts['logtype'] === 'journal' })
      filters.set(key, flt)
    }
    return { name: key, flt, opts }
  }
  const files = [name]
  for (let fi = 0; fi < files.length; fi++) {
    const file = files[fi] ?? ''
    const lines = (await readFile(path.join(logsDir, file), 'utf8')).split(/\r\n|\r|\n/)
    if (lines[lines.length - 1] === '') lines.pop()
    let blocks: Block[] | null = null
    let common: Opts = {}
    let ignoreBlock = false
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i] ?? ''
      let faildata: Opts = {}
      const j = /^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$/.exec(line)
      if (j !== null) {
        const data = JSON.parse(j[2] ?? 'null') as unknown
        if (j[1] === 'fileOptions') {
          common = data as Opts
          continue
        }
        if (j[1] === 'filterOptions') {
          blocks = []
          ignoreBlock = false
          for (const d of Array.isArray(data) ? (data as Opts[]) : [data as Opts]) {
            const opts = { ...common, ...d }
            const cond = opts['test.condition']
            if (typeof cond === 'string' && cond !== '') {
              const v = evalCondition(cond, name, opts)
              if (v === undefined) report.skipped.push(`${file}:${i + 1}: test.condition ${cond}`)
              ignoreBlock = v !== true
            }
            if (!ignoreBlock) blocks.push(await make(opts))
          }
          continue
        }
        if (j[1] === 'addFILE') {
          files.push(String(data))
          continue
        }
        faildata = data as Opts
        i++
        line = lines[i] ?? ''
      } else if (ignoreBlock || line.startsWith('#') || line.trim() === '') continue
      if (ignoreBlock) continue
      if (blocks === null || blocks.length === 0) blocks = [await make({})]
      line = line.replace(/\r?\n?$/, '').replace(/\r$/, '')
      for (const b of blocks) {
        const constraint = faildata['constraint']
        if (typeof constraint === 'string' && constraint !== '') {
          const v = evalCondition(constraint, name, b.opts)
          if (v === undefined) {
            report.skipped.push(`${file}:${i + 1}: constraint ${constraint}`)
            continue
          }
          if (!v) continue
        }
        report.checked++
        const prefix = b.opts['logtype'] === 'journal' ? String(b.opts['test.prefix-line'] ?? '') : ''
        const all = b.flt.processAll(prefix + line, TEST_NOW)
        const found = all.filter((r) => r.ignored !== true && r.nofail !== true)
        const where = `${b.name} ${file}:${i + 1}`
        const fail = (why: string): void => { report.failures.push(`${where}: ${why}: ${line.slice(0, 200)}`) }
        const expect = faildata['match'] === true
        if (found.length === 0) {
          if (expect) fail('not matched, should have')
          else report.passed++
          continue
        }
        if (!expect) { fail(`matched (regex ${found[0]?.regexIndex}, host ${found[0]?.host}), should not have`); continue }
        if (found.length > 1) { fail(`several regexes matched: ${found.map((r) => r.regexIndex).join(',')}`); continue }
        const r = found[0]
        if (r === undefined) continue
        const problems: string[] = []
        if (faildata['host'] !== undefined && faildata['host'] !== r.host) problems.push(`host ${r.host} != ${String(faildata['host'])}`)
        if (typeof faildata['user'] === 'string' && faildata['user'] !== r.user) problems.push(`user ${String(r.user)} != ${faildata['user']}`)
        if (typeof faildata['attempts'] === 'number' && faildata['attempts'] !== r.attempts) problems.push(`attempts ${r.attempts} != ${faildata['attempts']}`)
        const t = faildata['time']
        if (typeof t === 'string' && b.opts['logtype'] !== 'journal') {
          const want = localIso(t)
          if (want !== r.time) problems.push(`time ${Number.isFinite(r.time) ? new Date(r.time).toISOString() : String(r.time)} != ${t}`)
        } else if (typeof t === 'string' && r.time !== TEST_NOW) problems.push(`journal time != ${TEST_NOW_ISO}`)
        if (problems.length > 0) fail(problems.join('; '))
        else report.passed++
      }
    }
  }
  return report
}

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

t.test('given fail2ban\'s annotated sample logs', async (t) => {
  const files = await fail2banFiles()
  if (files === null) {
    if (process.env['CI'] === 'true') t.fail(`fail2ban files unavailable in CI: ${fail2banUnavailable}`)
    else t.comment(`SKIP: fail2ban files unavailable: ${fail2banUnavailable}`)
    return
  }
  t.equal(new Date(TEST_NOW).getHours(), 12, 'TZ is Europe/Zurich (CEST)')
  for (const name of REQUIRED) {
    const r = await runSamples(files.filterDir, files.logsDir, name)
    t.comment(`${name}: ${r.passed}/${r.checked} sample checks pass${r.skipped.length > 0 ? `; skipped: ${r.skipped.join(' | ')}` : ''}`)
    t.ok(r.checked > 0, `${name} has samples`)
    t.same(r.failures, [], `${name}: every sample line as fail2ban expects`)
  }
  const logs = new Set(await readdir(files.logsDir))
  const others = (await readdir(files.filterDir)).filter((f) => f.endsWith('.conf')).map((f) => f.slice(0, -5))
    .filter((n) => !REQUIRED.includes(n) && logs.has(n)).sort()
  let passed = 0
  let checked = 0
  const problems: string[] = []
  for (const name of others) {
    try {
      const r = await runSamples(files.filterDir, files.logsDir, name)
      passed += r.passed
      checked += r.checked
      if (r.failures.length > 0) problems.push(`${name}: ${r.passed}/${r.checked}; first: ${r.failures[0] ?? ''}`)
      for (const s of r.skipped) problems.push(`${name}: skipped ${s}`)
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message.slice(0, 200)}`)
    }
  }
  t.comment(`other stock filters with samples: ${others.length}; sample checks passing: ${passed}/${checked} (${(100 * passed / Math.max(1, checked)).toFixed(1)}%)`)
  for (const p of problems) t.comment(p)
})
