// The dry-run twin of the firewall: touches no kernel, logs what a real
// backend would change, and remembers it so `list` answers like one
// (timeouts count against the wall clock, so expired bans disappear).
import type { FirewallBackend, KernelBan } from '../backend.js'
import { checkScope, planChanges } from './validate.js'

export type DryRunLog = (msg: string, data: object) => void

export function dryRunBackend(opts: { log: DryRunLog; now?: () => number }): FirewallBackend {
  const { log } = opts
  const now = opts.now ?? Date.now
  /** `jail ip` -> ban and when it ends. */
  const held = new Map<string, { jail: string; ip: string; until: number }>()

  function forgetExpired(): void {
    const t = now()
    for (const [key, ban] of held) if (ban.until <= t) held.delete(key)
  }

  return {
    name: 'dry-run',

    async ensure(jails) {
      const scopes = jails.map(j => checkScope(j))
      log('dry-run: would ensure firewall rules', { jails: scopes })
    },

    async list() {
      forgetExpired()
      const t = now()
      return [...held.values()].map((b): KernelBan => ({ jail: b.jail, ip: b.ip, expiresIn: b.until - t }))
    },

    async apply(changes) {
      const plan = planChanges(changes)
      forgetExpired()
      const t = now()
      for (const d of plan.del) {
        if (held.delete(`${d.jail} ${d.ip}`)) log('dry-run: would unban', { jail: d.jail, ip: d.ip })
      }
      for (const a of plan.add) {
        held.set(`${a.jail} ${a.ip}`, { jail: a.jail, ip: a.ip, until: t + a.timeout })
        log('dry-run: would ban', { jail: a.jail, ip: a.ip, timeout: a.timeout })
      }
    },

    async flush() {
      forgetExpired()
      const bans = held.size
      held.clear()
      log('dry-run: would remove all firewall rules', { bans })
      return { bans }
    },
  }
}
