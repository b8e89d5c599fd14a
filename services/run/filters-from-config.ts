// Resolves each jail's filters: a built-in name, a fail2ban filter name
// found in `filter_dirs`, or a path to a fail2ban filter file (with the
// jail's `filter_options`). Every problem is reported at once.
//
// A jail on the journal (backend: systemd) reads the entries its
// `journalmatch` selects, else those of its filters' own journalmatch (the
// failure and success filters' together): a built-in's default (see
// builtin.ts), a fail2ban filter's `journalmatch` option. A fail2ban filter
// is then read with logtype=journal unless filter_options set a logtype, as
// fail2ban's systemd backend does, and sees the entry as fail2ban gives it
// (journal-entry.ts).
import { existsSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import type { Config, JailConfig } from '../../ops/config/types.js'
import { asLineFilter, compileFilter } from '../watcher/fail2ban/filter-engine.js'
import { readFilter } from '../watcher/fail2ban/filter-reader.js'
import { badBotsFilter } from '../watcher/filters/apache-badbots.js'
import { builtinFilter, builtinFilters, builtinJournalMatches } from '../watcher/filters/builtin.js'
import type { LineFilter } from '../watcher/filters/filter.js'
import { journalModeFilter } from '../watcher/journal-entry.js'
import { parseJournalMatch, unionOf, type JournalMatch } from '../watcher/journal-match.js'
import type { WatchedJail } from '../watcher/watcher.js'

/** A jail names a filter that does not exist or cannot be used. */
export class UnknownFilterError extends Error {
  readonly code = 'BANLEDGER_FILTER_UNKNOWN'
  override readonly name = 'UnknownFilterError'
}

/** A filter and, for a jail on the journal, the matches it reads there:
 *  null when it has none, a string when its own is unusable (why). */
type Resolved = Readonly<{ filter: LineFilter; journalmatch: JournalMatch | string | null }>

/** Built-ins first (written for banledger, anchored against injection),
 *  then `NAME.conf` in each of `filter_dirs`; a name with a `/` is a path. */
async function resolveFilter(config: Config, jail: JailConfig, spec: string): Promise<Resolved | string> {
  if (spec.includes('/')) {
    const path = isAbsolute(spec) ? spec : resolve(dirname(config.path), spec)
    if (!existsSync(path)) return `no filter file ${path}`
    return fail2banFilter(dirname(path), basename(path).replace(/\.(conf|local)$/, ''), jail)
  }
  const builtin = builtinFilter(spec)
  const journal = jail.backend === 'systemd'
  const journalmatch = builtinJournalMatches.get(spec)
  if (builtin !== undefined && journal && journalmatch === undefined) {
    return `the built-in filter ${spec} reads the web server's own log files, not syslog lines: it cannot read the journal (use logpath, without backend: systemd)`
  }
  const asBuiltin = (filter: LineFilter): Resolved => ({ filter, journalmatch: journal && journalmatch !== undefined ? parseJournalMatch(journalmatch) : null })
  // fail2ban's option name for extra bad bots, `|`-separated, as in jail.local.
  const extraBots = jail.filterOptions['badbotscustom']
  if (spec === 'apache-badbots' && extraBots !== undefined) {
    try {
      return asBuiltin(badBotsFilter(extraBots.split('|').map(b => b.trim()).filter(b => b !== '')))
    } catch (err) {
      return `filter_options.badbotscustom: ${(err as Error).message}`
    }
  }
  if (builtin !== undefined) return asBuiltin(builtin)
  for (const dir of config.filterDirs) {
    if (existsSync(join(dir, `${spec}.conf`))) return fail2banFilter(dir, spec, jail)
  }
  return `unknown filter "${spec}" (built-in: ${[...builtinFilters.keys()].join(', ')}; ` +
    `fail2ban filters are looked up in ${config.filterDirs.join(', ') || 'no filter_dirs'})`
}

async function fail2banFilter(dir: string, name: string, jail: JailConfig): Promise<Resolved | string> {
  const journal = jail.backend === 'systemd'
  try {
    const def = await readFilter(dir, name, journal ? { logtype: 'journal', ...jail.filterOptions } : { ...jail.filterOptions })
    const make = (): LineFilter => {
      const compiled = asLineFilter(compileFilter(def), name)
      return def.options['logtype'] === 'journal' ? journalModeFilter(compiled) : compiled
    }
    // Compiled now, so that a broken filter fails the start; each source
    // then makes its own (LineFilter.forSource).
    const filter: LineFilter = { ...make(), forSource: make }
    if (!journal || def.journalmatch === null) return { filter, journalmatch: null }
    const m = parseJournalMatch(def.journalmatch)
    return { filter, journalmatch: typeof m === 'string' ? `its journalmatch ${JSON.stringify(def.journalmatch.slice(0, 200))}: ${m}` : m }
  } catch (err) {
    return (err as Error).message
  }
}

/** The matches of a jail on the journal: its own, else its filters'. */
function journalOf(j: JailConfig, filters: readonly Resolved[], problems: string[]): JournalMatch | null {
  if (j.journalmatch !== null) return j.journalmatch
  let union: JournalMatch = []
  for (const { filter, journalmatch } of filters) {
    if (journalmatch === null || typeof journalmatch === 'string') {
      const why = journalmatch ?? 'it has no journalmatch'
      problems.push(`jails.${j.name}.journalmatch: missing, and the filter ${filter.name} cannot supply it (${why}); ` +
        'set journalmatch: on the jail, e.g. "_SYSTEMD_UNIT=<its unit>.service"')
      return null
    }
    union = unionOf(union, journalmatch)
  }
  return union
}

export async function watchedJails(config: Config): Promise<WatchedJail[]> {
  const problems: string[] = []
  const jails: WatchedJail[] = []
  for (const j of config.jails) {
    const failure = await resolveFilter(config, j, j.filter)
    const success = j.successFilter === null ? null : await resolveFilter(config, j, j.successFilter)
    if (typeof failure === 'string') problems.push(`jails.${j.name}.filter: ${failure}`)
    if (typeof success === 'string') problems.push(`jails.${j.name}.success_filter: ${success}`)
    if (typeof failure === 'string' || typeof success === 'string') continue
    const journal = j.backend === 'systemd' ? journalOf(j, success === null ? [failure] : [failure, success], problems) : null
    if (j.backend === 'systemd' && journal === null) continue
    const horizon = Math.max(j.policy.findtime, j.policy.grace)
    jails.push({ name: j.name, logpath: j.logpath, journal, failure: failure.filter, success: success?.filter ?? null, horizon })
  }
  if (problems.length > 0) throw new UnknownFilterError(`invalid configuration ${config.path}:\n  ${problems.join('\n  ')}`)
  return jails
}
