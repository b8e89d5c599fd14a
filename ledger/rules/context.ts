// What the rules know about the configuration: each jail's policy and who
// may never be banned. Built once at start-up from the parsed config.
import { AddressSet } from './addresses.js'
import type { JailPolicy } from './types.js'

export interface RulesContext {
  /** Jail names, in configuration order. */
  readonly jails: readonly string[]
  policyFor(jail: string): JailPolicy | undefined
  /** Used for state of a jail that is no longer configured (expiry, forgetting). */
  readonly fallbackPolicy: JailPolicy
  /** True when `ip` (canonical) is in the global or the jail's ignore list, or is one of this host's own addresses. */
  isIgnored(jail: string, ip: string): boolean
}

export type JailRules = Readonly<{ name: string; policy: JailPolicy; ignoreip: readonly string[] }>

/** Throws a TypeError naming the bad entry when an ignore entry is not an address or range. */
export function makeRulesContext(
  jails: readonly JailRules[],
  globalIgnore: readonly string[],
  ownAddresses: readonly string[],
  fallbackPolicy: JailPolicy,
): RulesContext {
  const global = new AddressSet([...globalIgnore, ...ownAddresses])
  // A jail without an ignore list of its own (the usual case) has none to look in.
  const byName = new Map(jails.map(j => [j.name, { policy: j.policy, ignore: j.ignoreip.length > 0 ? new AddressSet(j.ignoreip) : null }]))
  return {
    jails: jails.map(j => j.name),
    fallbackPolicy,
    policyFor: jail => byName.get(jail)?.policy,
    isIgnored: (jail, ip) => global.has(ip) || (byName.get(jail)?.ignore?.has(ip) ?? false),
  }
}
