// Addresses a ban must never cover, whatever the ledger says: the ignore
// lists, this host's own addresses and its default gateways. A ban of one
// of them would lock the host out, so the worker refuses it and says why.
import { canonicalAddress } from '../../ledger/rules/addresses.js'
import type { RulesContext } from '../../ledger/rules/context.js'
import type { CommandRunner } from './command-runner.js'

/** Why `ip` must not be banned in `jail`, or null when it may be. */
export type ProtectionCheck = (jail: string, ip: string) => string | null

/** The default gateways of this host (IPv4 and IPv6), from `ip -j route`. */
export async function defaultGateways(run: CommandRunner): Promise<string[]> {
  const out: string[] = []
  for (const family of ['-4', '-6']) {
    try {
      const { stdout } = await run('ip', ['-j', family, 'route', 'show', 'default'])
      const routes = JSON.parse(stdout === '' ? '[]' : stdout) as { gateway?: unknown }[]
      for (const r of routes) {
        const gw = typeof r.gateway === 'string' ? canonicalAddress(r.gateway) : null
        if (gw !== null) out.push(gw)
      }
    } catch {
      // No route table for this family (or no `ip`): nothing to protect there.
    }
  }
  return out
}

export function protectionCheck(rules: RulesContext, gateways: readonly string[]): ProtectionCheck {
  const gw = new Set(gateways)
  return (jail, ip) => {
    if (canonicalAddress(ip) !== ip) return 'not a canonical IPv4 or IPv6 address'
    if (gw.has(ip)) return 'it is a default gateway of this host'
    if (rules.isIgnored(jail, ip)) return 'it is in an ignore list or is one of this host\'s addresses'
    return null
  }
}
