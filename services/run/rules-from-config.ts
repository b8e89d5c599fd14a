// The rules' view of the configuration, and this host's own addresses (R9).
import { networkInterfaces } from 'node:os'
import { canonicalAddress } from '../../ledger/rules/addresses.js'
import { makeRulesContext, type RulesContext } from '../../ledger/rules/context.js'
import type { Config } from '../../ops/config/types.js'

/** Every address of this host's interfaces, canonical. */
export function ownAddresses(): string[] {
  const out = new Set<string>()
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      const ip = canonicalAddress(a.address.split('%')[0] ?? '')
      if (ip !== null) out.add(ip)
    }
  }
  return [...out]
}

export function rulesFromConfig(config: Config, own: readonly string[] = config.ignoreSelf ? ownAddresses() : []): RulesContext {
  const fallback = config.jails[0]?.policy
  if (fallback === undefined) throw new TypeError('a configuration has at least one jail')
  return makeRulesContext(
    config.jails.map(j => ({ name: j.name, policy: j.policy, ignoreip: j.ignoreip })),
    config.ignoreip, own, fallback,
  )
}
