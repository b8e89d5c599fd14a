// Resolves each jail's filters: a built-in name, a fail2ban filter name
// found in `filter_dirs`, or a path to a fail2ban filter file (with the
// jail's `filter_options`). Every problem is reported at once.
import { existsSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import type { Config, JailConfig } from '../../ops/config/types.js'
import { asLineFilter, compileFilter } from '../watcher/fail2ban/filter-engine.js'
import { readFilter } from '../watcher/fail2ban/filter-reader.js'
import { badBotsFilter } from '../watcher/filters/apache-badbots.js'
import { builtinFilter, builtinFilters } from '../watcher/filters/builtin.js'
import type { LineFilter } from '../watcher/filters/filter.js'
import type { WatchedJail } from '../watcher/watcher.js'

/** A jail names a filter that does not exist or cannot be used. */
export class UnknownFilterError extends Error {
  readonly code = 'BANLEDGER_FILTER_UNKNOWN'
  override readonly name = 'UnknownFilterError'
}

/** Built-ins first (written for banledger, anchored against injection),
 *  then `NAME.conf` in each of `filter_dirs`; a name with a `/` is a path. */
async function resolveFilter(config: Config, jail: JailConfig, spec: string): Promise<LineFilter | string> {
  if (spec.includes('/')) {
    const path = isAbsolute(spec) ? spec : resolve(dirname(config.path), spec)
    if (!existsSync(path)) return `no filter file ${path}`
    return fail2banFilter(dirname(path), basename(path).replace(/\.(conf|local)$/, ''), jail)
  }
  // fail2ban's option name for extra bad bots, `|`-separated, as in jail.local.
  const extraBots = jail.filterOptions['badbotscustom']
  if (spec === 'apache-badbots' && extraBots !== undefined) {
    try {
      return badBotsFilter(extraBots.split('|').map(b => b.trim()).filter(b => b !== ''))
    } catch (err) {
      return `filter_options.badbotscustom: ${(err as Error).message}`
    }
  }
  const builtin = builtinFilter(spec)
  if (builtin !== undefined) return builtin
  for (const dir of config.filterDirs) {
    if (existsSync(join(dir, `${spec}.conf`))) return fail2banFilter(dir, spec, jail)
  }
  return `unknown filter "${spec}" (built-in: ${[...builtinFilters.keys()].join(', ')}; ` +
    `fail2ban filters are looked up in ${config.filterDirs.join(', ') || 'no filter_dirs'})`
}

async function fail2banFilter(dir: string, name: string, jail: JailConfig): Promise<LineFilter | string> {
  try {
    return asLineFilter(compileFilter(await readFilter(dir, name, { ...jail.filterOptions })), name)
  } catch (err) {
    return (err as Error).message
  }
}

export async function watchedJails(config: Config): Promise<WatchedJail[]> {
  const problems: string[] = []
  const jails: WatchedJail[] = []
  for (const j of config.jails) {
    const failure = await resolveFilter(config, j, j.filter)
    const success = j.successFilter === null ? null : await resolveFilter(config, j, j.successFilter)
    if (typeof failure === 'string') problems.push(`jails.${j.name}.filter: ${failure}`)
    if (typeof success === 'string') problems.push(`jails.${j.name}.success_filter: ${success}`)
    if (typeof failure !== 'string' && typeof success !== 'string') {
      const horizon = Math.max(j.policy.findtime, j.policy.grace)
      jails.push({ name: j.name, logpath: j.logpath, failure, success, horizon })
    }
  }
  if (problems.length > 0) throw new UnknownFilterError(`invalid configuration ${config.path}:\n  ${problems.join('\n  ')}`)
  return jails
}
