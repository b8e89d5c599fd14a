// The firewall worker as the config describes it: for the service, and for
// `banledger firewall check`, which runs one check with it on a backend of
// its own.
import type { Logger } from 'pino'
import type { RulesContext } from '../../ledger/rules/context.js'
import type { Millis } from '../../ledger/rules/types.js'
import type { Config } from '../../ops/config/types.js'
import type { FirewallBackend } from '../firewall/backend.js'
import { createBackend } from '../firewall/backends/create-backend.js'
import { execRunner } from '../firewall/command-runner.js'
import { netProtectionCheck, type Escalation } from '../firewall/escalate.js'
import { FirewallWorker } from '../firewall/firewall-worker.js'
import { defaultGateways, protectionCheck } from '../firewall/protected-addresses.js'
import type { DesiredBan } from '../firewall/reconcile.js'
import { ownAddresses } from './rules-from-config.js'

/** IPv6 /64 escalation as configured (firewall.ipv6_escalate), or null when off.
 *  A /64 overlapping an ignore entry, this host's addresses or `gateways` is never banned. */
export function escalationFromConfig(
  config: Config, gateways: readonly string[], own: readonly string[] = config.ignoreSelf ? ownAddresses() : [],
): Escalation | null {
  const threshold = config.firewall.ipv6Escalate
  if (threshold === null) return null
  const perJail = new Map(config.jails.map(j => [j.name, j.ignoreip]))
  return { threshold, protection: netProtectionCheck([...config.ignoreip, ...own, ...gateways], perJail) }
}

/** A worker on `backend` for the configured jails, protecting the ignore
 *  lists, this host and its gateways. */
export async function firewallWorker(config: Config, opts: Readonly<{
  backend: FirewallBackend
  rules: RulesContext
  snapshot: () => Promise<readonly DesiredBan[]>
  checkInterval: Millis
  logger: Logger
  now: () => Millis
}>): Promise<FirewallWorker> {
  const { rules, ...worker } = opts
  const gateways = await defaultGateways(execRunner)
  return new FirewallWorker({
    ...worker,
    jails: config.jails.map(j => ({ name: j.name, ports: j.ports, protocol: j.protocol })),
    protection: protectionCheck(rules, gateways),
    escalation: escalationFromConfig(config, gateways),
  })
}

/** The service's firewall worker on the configured backend, fed from the projection. */
export async function buildFirewall(
  config: Config, rules: RulesContext, snapshot: () => Promise<readonly DesiredBan[]>, logger: Logger, now: () => Millis,
): Promise<FirewallWorker> {
  const { backend, reason } = await createBackend(config.firewall.backend, {
    run: execRunner,
    maxelem: config.firewall.maxelem,
    log: (msg, data) => logger.info({ firewall: data }, msg),
  })
  logger.info({ firewall: { backend: backend.name } }, `firewall backend ${reason}`)
  return firewallWorker(config, { backend, rules, snapshot, checkInterval: config.firewall.checkInterval, logger, now })
}
