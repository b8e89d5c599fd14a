// The roles a service process runs, and which of them a configuration
// allows together. Apart from service.ts so that `banledger config check`
// and `run`'s option parsing need none of the service's modules.
import type { Config } from '../../ops/config/types.js'

export const ROLES = ['watcher', 'ledger', 'firewall', 'notifier'] as const
export type Role = (typeof ROLES)[number]

/** Roles on the embedded bus: all of them, in one process. */
export class RoleError extends Error {
  readonly code = 'BANLEDGER_ROLE_INVALID'
  override readonly name = 'RoleError'
}

/** Throws a RoleError when `config`'s bus cannot run just `roles`. */
export function checkRoles(config: Config, roles: readonly Role[]): void {
  if (config.bus.kind === 'embedded' && ROLES.some(r => !roles.includes(r))) {
    throw new RoleError(`--role ${roles.join(',')}: the embedded bus runs every role in one process; set bus: { nats: ... } in ${config.path} to split them`)
  }
}
