// Resolves each jail's filter names to filters, reporting every unknown one.
import type { Config } from '../../ops/config/types.js'
import { builtinFilter, builtinFilters } from '../watcher/filters/builtin.js'
import type { WatchedJail } from '../watcher/watcher.js'

/** A jail names a filter this banledger does not have. */
export class UnknownFilterError extends Error {
  readonly code = 'BANLEDGER_FILTER_UNKNOWN'
  override readonly name = 'UnknownFilterError'
}

export function watchedJails(config: Config): WatchedJail[] {
  const problems: string[] = []
  const jails: WatchedJail[] = []
  const known = [...builtinFilters.keys()].join(', ')
  for (const j of config.jails) {
    const failure = builtinFilter(j.filter)
    const success = j.successFilter === null ? null : builtinFilter(j.successFilter)
    if (failure === undefined) problems.push(`jails.${j.name}.filter: unknown filter "${j.filter}" (built-in: ${known})`)
    if (success === undefined) problems.push(`jails.${j.name}.success_filter: unknown filter "${j.successFilter}" (built-in: ${known})`)
    if (failure !== undefined && success !== undefined) jails.push({ name: j.name, logpath: j.logpath, failure, success })
  }
  if (problems.length > 0) throw new UnknownFilterError(`invalid configuration ${config.path}:\n  ${problems.join('\n  ')}`)
  return jails
}
