// The firewall port: what the worker needs from a kernel firewall. One
// adapter per backend (nftables, ipset + iptables, plain iptables, dry-run),
// all passing one contract suite. Adapters never build a shell command:
// they run fixed binaries with argument arrays and stdin (CommandRunner).
import type { Millis } from '../../ledger/rules/types.js'

export type BackendName = 'nftables' | 'ipset' | 'iptables' | 'dry-run'

/** What a jail's rule matches: traffic to these ports (all when empty) over this protocol. */
export type JailScope = Readonly<{ name: string; ports: readonly number[]; protocol: 'tcp' | 'udp' }>

/** A ban the kernel holds. */
export type KernelBan = Readonly<{
  jail: string
  /** Canonical text (see canonicalAddress). */
  ip: string
  /** Time left before the kernel drops it by itself; null when the backend has no timeouts (iptables). */
  expiresIn: Millis | null
}>

export type BanAdd = Readonly<{
  jail: string
  ip: string
  /** How long the kernel should keep it, > 0 (the ban's until - now). */
  timeout: Millis
  /** The kernel may hold it already with another timeout: set it anew.
   *  Costlier with nftables (a delete in the transaction), so only drift
   *  repair asks for it; a plain add of a present address changes nothing. */
  retime?: boolean
}>

export type BanKey = Readonly<{ jail: string; ip: string }>

/** Deletes are applied before adds. Adding a present address is a no-op
 *  unless `retime` (or a delete of it in the same batch) asks for its new
 *  timeout; deleting an absent one is a no-op (R13). */
export type FirewallChanges = Readonly<{ add: readonly BanAdd[]; del: readonly BanKey[] }>

export interface FirewallBackend {
  readonly name: BackendName
  /** Creates what the jails need (table, sets, chains, rules), idempotently;
   *  also repairs missing pieces when someone deleted them (drift). */
  ensure(jails: readonly JailScope[]): Promise<void>
  /** Every ban the kernel holds in banledger's sets/chains. */
  list(): Promise<KernelBan[]>
  /** One transaction where the backend allows it (nftables, ipset restore). */
  apply(changes: FirewallChanges): Promise<void>
  /** Removes everything banledger created; says how many bans went with it. */
  flush(): Promise<{ bans: number }>
}

/** A firewall command failed; `detail` holds its stderr (never interpolated into a shell). */
export class FirewallCommandError extends Error {
  readonly code = 'BANLEDGER_FIREWALL_COMMAND'
  override readonly name = 'FirewallCommandError'
}
