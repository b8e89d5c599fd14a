// Reconcile, do not replay commands: compare what the kernel holds with the
// bans that should be in force and compute the difference. Pure.
import type { Millis } from '../../ledger/rules/types.js'
import type { BanAdd, BanKey, FirewallChanges, KernelBan } from './backend.js'

export type DesiredBan = Readonly<{ jail: string; ip: string; until: Millis }>

export type Drift = Readonly<{
  /** Bans in force that the kernel lacked. */
  missing: number
  /** Kernel entries that are not (or no longer) bans. */
  stale: number
  /** Kernel entries whose timeout was off by more than the tolerance. */
  retimed: number
}>

/** A kernel timeout this close to the ban's remaining time is right. */
export const TIMEOUT_TOLERANCE: Millis = 60_000

const key = (b: BanKey): string => `${b.jail}/${b.ip}`

export function reconcile(
  desired: readonly DesiredBan[], actual: readonly KernelBan[], now: Millis,
): FirewallChanges & { drift: Drift } {
  const want = new Map<string, DesiredBan>()
  for (const d of desired) if (d.until > now) want.set(key(d), d)
  const have = new Map<string, KernelBan>()
  for (const a of actual) have.set(key(a), a)
  const add: BanAdd[] = []
  const del: BanKey[] = []
  let missing = 0
  let retimed = 0
  for (const [k, d] of want) {
    const a = have.get(k)
    const timeout = d.until - now
    if (a === undefined) {
      missing++
      add.push({ jail: d.jail, ip: d.ip, timeout })
    } else if (a.expiresIn !== null && Math.abs(a.expiresIn - timeout) > TIMEOUT_TOLERANCE) {
      retimed++
      add.push({ jail: d.jail, ip: d.ip, timeout, retime: true })
    }
  }
  for (const [k, a] of have) if (!want.has(k)) del.push({ jail: a.jail, ip: a.ip })
  return { add, del, drift: { missing, stale: del.length, retimed } }
}
