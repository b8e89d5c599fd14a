// banledger filter-test: our fail2ban-regex. Runs a filter (a fail2ban
// filter by name or path, a built-in, or a bare regex with <HOST>) over a
// log file and says what it matched, ignored and missed (S6).
import { closeSync, existsSync, openSync } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { compileFilter, type Fail2banFilter } from '../../../services/watcher/fail2ban/filter-engine.js'
import { readFilter, type FilterDefinition } from '../../../services/watcher/fail2ban/filter-reader.js'
import type { LineFilter } from '../../../services/watcher/filters/filter.js'
import { parse, type CliIO, type Command } from '../command.js'
import { OutputClosed, writeStdout } from '../blocking-stdout.js'
import { LineWriter } from '../line-writer.js'
import { isoMinute, localIso, type IsoMinute } from '../local-iso.js'
import { DatedLog } from '../log-reading/dated-log.js'
import { chunks, eachLine, lineText, MAX_LINE } from '../log-reading/log-lines.js'
import { UsageError } from '../usage-error.js'

// the constant parts of a --json line, as bytes
const JSON_LINE = Buffer.from('{"line":')
const JSON_HOST = Buffer.from(',"host":')
const JSON_TIME = Buffer.from(',"time":"')
const JSON_USER = Buffer.from('","user":')
const JSON_CLOSE = Buffer.from('}')
const JSON_END = Buffer.from('"}')
const DOT = Buffer.from('.')

const DEFAULT_FILTER_DIR = '/etc/fail2ban/filter.d'

function parseOptions(opts: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const o of opts) {
    const eq = o.indexOf('=')
    if (eq <= 0) throw new UsageError(`filter-test: --filter-opt expects KEY=VALUE, got ${JSON.stringify(o)}`)
    out[o.slice(0, eq)] = o.slice(eq + 1)
  }
  return out
}

/** A fail2ban filter's definition (read, not compiled yet), or a built-in filter. */
type Resolved =
  | { kind: 'fail2ban'; label: string; def: FilterDefinition }
  | { kind: 'builtin'; filter: LineFilter; label: string }
/** What runs: a built-in, or a fail2ban filter compiled. */
type Source = Extract<Resolved, { kind: 'builtin' }> | (Extract<Resolved, { kind: 'fail2ban' }> & { filter: Fail2banFilter })

/** A filter name (a file in the fail2ban dir, else a built-in), a path, or a bare regex. */
async function resolveFilter(spec: string, dir: string, options: Record<string, string>): Promise<Resolved> {
  if (spec.includes('<HOST>') || spec.includes('<ADDR>') || spec.includes('<F-ID>')) {
    const def: FilterDefinition = { failregex: [spec], ignoreregex: [], prefregex: null, datepattern: null, maxlines: 1, journalmatch: null, options: {} }
    return { kind: 'fail2ban', label: 'the regex given', def }
  }
  if (spec.includes('/') || spec.endsWith('.conf')) {
    const path = resolve(spec)
    if (!existsSync(path)) throw new UsageError(`filter-test: no filter file ${path}`)
    return { kind: 'fail2ban', label: path, def: await readFilter(dirname(path), basename(path).replace(/\.(conf|local)$/, ''), options) }
  }
  if (!existsSync(resolve(dir, `${spec}.conf`))) {
    // Imported only here: loading every built-in filter (and compiling
    // their regexes) is start-up time a fail2ban filter does not need.
    const builtin = (await import('../../../services/watcher/filters/builtin.js')).builtinFilter(spec)
    if (builtin !== undefined) return { kind: 'builtin', filter: builtin, label: `built-in ${spec}` }
    throw new UsageError(`filter-test: no filter "${spec}": not built in, and no ${resolve(dir, `${spec}.conf`)}`)
  }
  return { kind: 'fail2ban', label: resolve(dir, `${spec}.conf`), def: await readFilter(dir, spec, options) }
}

export const filterTestCommand: Command = {
  help: `Usage: banledger filter-test [options] LOG FILTER
       banledger filter-test [--now EPOCH_SECONDS] --filter-dir DIR --filter NAME [--filter-opt KEY=VALUE]... --json LOG

Runs FILTER over every line of LOG and reports the lines matched (a failure
with a host), ignored (ignoreregex) and missed, the hits per failregex and the
date templates used. FILTER is a fail2ban filter name (looked up in
--filter-dir, default ${DEFAULT_FILTER_DIR}; a built-in of the same name is
used when that folder has none), a path to a filter file, or a bare regex
with <HOST>. fail2ban's own filter files work unchanged (S7).

Options:
  --filter-dir DIR        where fail2ban filters live
  --filter NAME           the filter (instead of the second positional)
  --filter-opt KEY=VALUE  a filter option (mode=aggressive, logtype=journal...), repeatable
  --now EPOCH_SECONDS     the current time (year guessing; journal lines); the zone is TZ's
  --json                  one JSON object per line that yields a failure:
                          {"line": 12, "host": "192.0.2.1", "time": "2005-06-21T16:47:48+02:00", "user": "..."}
  --print-missed          print the lines no failregex matched
  --print-ignored         print the lines an ignoreregex matched
  --one-thread            read and date the log in the filter's thread (by
                          default a second thread does, for fail2ban filters)`,
  async run(args, io) {
    const { values, positionals } = parse('filter-test', args, {
      'filter-dir': { type: 'string' }, filter: { type: 'string' }, 'filter-opt': { type: 'string', multiple: true },
      now: { type: 'string' }, json: { type: 'boolean' }, 'print-missed': { type: 'boolean' }, 'print-ignored': { type: 'boolean' },
      'one-thread': { type: 'boolean' },
    })
    if (values.help === true) { io.out(this.help); return 0 }
    const [log, positionalFilter, ...rest] = positionals
    const spec = typeof values.filter === 'string' ? values.filter : positionalFilter
    if (log === undefined || spec === undefined || rest.length > 0 || (typeof values.filter === 'string' && positionalFilter !== undefined)) {
      throw new UsageError('filter-test: expected LOG and FILTER (see banledger filter-test --help)')
    }
    let now = io.now()
    if (typeof values.now === 'string') {
      if (!/^\d{1,12}(\.\d+)?$/.test(values.now)) throw new UsageError(`filter-test: --now expects epoch seconds, got ${JSON.stringify(values.now)}`)
      now = Math.round(Number(values.now) * 1000)
    }
    const dir = typeof values['filter-dir'] === 'string' ? values['filter-dir'] : DEFAULT_FILTER_DIR
    const resolved = await resolveFilter(spec, dir, parseOptions((values['filter-opt'] as string[] | undefined) ?? []))
    const opts = { json: values.json === true, printMissed: values['print-missed'] === true, printIgnored: values['print-ignored'] === true }
    const cannotRead = (err: unknown): UsageError => new UsageError(`filter-test: cannot read ${log}: ${(err as Error).message}`)
    let fd: number
    try {
      fd = openSync(log, 'r')
    } catch (err) {
      throw cannotRead(err)
    }
    let dated: DatedLog | null = null
    try {
      if (resolved.kind === 'builtin') return runTest(log, resolved, chunks(fd, cannotRead), now, io, opts)
      // A second thread reads the log and dates its lines while this one
      // compiles the filter, then while it runs it (dated-log.ts); not for
      // journal lines, which the filter does not date.
      const { def } = resolved
      if (values['one-thread'] !== true && def.options['logtype'] !== 'journal') dated = DatedLog.start(log, def.datepattern, now, cannotRead)
      const filter = compileFilter(def, dated === null ? { addresses: false } : { addresses: false, dater: dated })
      await dated?.ready()
      return runTest(log, { ...resolved, filter }, dated?.chunks() ?? chunks(fd, cannotRead), now, io, opts)
    } catch (err) {
      if (err instanceof OutputClosed) return 0 // `| head` has what it wanted
      throw err
    } finally {
      closeSync(fd)
      await dated?.close()
    }
  },
}

/** Runs `source` over the lines of `text` (the log's, in chunks). */
function runTest(
  log: string, source: Source, text: Iterable<string>, now: number, io: CliIO, opts: { json: boolean; printMissed: boolean; printIgnored: boolean },
): number {
  const started = performance.now()
  let lineNo = 0
  let matched = 0
  let ignored = 0
  let missed = 0
  const out = new LineWriter(writeStdout)
  /** The local minute of the last time written (isoMinute), and its text
   *  as bytes: `,"time":"` and its head; its tail, then `","user":`, or
   *  `"}` (failures come many to the minute). */
  let minute: IsoMinute | null = null
  let timeHead = JSON_TIME
  let tailUser = JSON_USER
  let tailEnd = JSON_END
  /** `raw`: a line, followed by its \n when `nl` (the engine then searches
   *  slices of it: Fail2banFilter.processTerminated). */
  const onLine = (raw: string, nl: boolean): void => {
    lineNo++
    const whole = (nl ? raw.length - 1 : raw.length) <= MAX_LINE
    let host: string | null = null
    let time = 0
    let user: string | undefined
    if (source.kind === 'fail2ban') {
      const r = nl && whole ? source.filter.processTerminated(raw, now) : source.filter.process(lineText(raw, nl), now)
      if (r !== null && r.ignored === true) {
        ignored++
        if (opts.printIgnored && !opts.json) out.line(`ignored: ${lineText(raw, nl)}`)
        return
      }
      if (r !== null && r.nofail !== true) {
        host = r.host
        time = r.time
        user = r.user
      }
    } else {
      const m = source.filter.match(lineText(raw, nl), now)
      if (m !== null) {
        host = m.ip
        time = m.at
        user = m.user
      }
    }
    if (host === null) {
      missed++
      if (opts.printMissed && !opts.json) out.line(`missed: ${lineText(raw, nl)}`)
    } else {
      matched++
      // JSON.stringify({ line, host, time, user? }), written out: no object per line
      if (opts.json) {
        out.bytes(JSON_LINE)
        out.int(lineNo)
        out.bytes(JSON_HOST)
        out.json(host)
        // the time's text, localIso(time), written from its minute's bytes
        const m = isoMinute(time)
        if (m !== null) {
          if (m !== minute) {
            minute = m
            timeHead = Buffer.from(`,"time":"${m.head}`)
            tailUser = Buffer.from(`${m.tail}","user":`)
            tailEnd = Buffer.from(`${m.tail}"}`)
          }
          const rest = time - m.start
          out.bytes(timeHead)
          out.padded(Math.floor(rest / 1000), 2)
          if (rest % 1000 !== 0) {
            out.bytes(DOT)
            out.padded(rest % 1000, 3)
          }
          out.bytes(user !== undefined ? tailUser : tailEnd)
        } else {
          out.bytes(JSON_TIME)
          out.text(localIso(time))
          out.bytes(user !== undefined ? JSON_USER : JSON_END)
        }
        if (user !== undefined) {
          out.json(user)
          out.bytes(JSON_CLOSE)
        }
        out.end()
      }
    }
  }
  eachLine(text, onLine)
  out.flush()
  if (opts.json) return 0
  const secs = (performance.now() - started) / 1000
  io.out(`Running tests\n=============\n\nUse   failregex filter file : ${source.label}\nUse         log file : ${log}\n`)
  if (source.kind === 'fail2ban') {
    const stats = source.filter.stats
    io.out(`Results\n=======\n\nFailregex: ${stats.perRegex.reduce((a, b) => a + b, 0)} total`)
    stats.perRegex.forEach((hits, i) => { if (hits > 0) io.out(`|  ${String(i + 1).padStart(3)}) [${hits}] ${(source.def.failregex[i] ?? '').slice(0, 160)}`) })
    io.out(`\nIgnoreregex: ${ignored} total\n\nDate template hits:`)
    for (const [template, hits] of stats.dateTemplates) io.out(`|  [${hits}] ${template}`)
  }
  io.out(`\nLines: ${lineNo} lines, ${ignored} ignored, ${matched} matched, ${missed} missed\n[processed in ${secs.toFixed(2)} sec, ${Math.round(lineNo / Math.max(secs, 1e-9))} lines/s]`)
  return 0
}
