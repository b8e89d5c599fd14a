// Optional IPv6 /64 escalation (firewall.ipv6_escalate, off by default):
// IPv6 attackers rotate addresses inside their /64, so when N addresses of
// one /64 are banned in a jail, the kernel holds the /64 instead of them.
// Decided from the whole set of bans in force, so it is pure and reconcile
// stays the one way the kernel is changed. A /64 that overlaps a protected
// address or range (ignore lists, this host, its gateways) is never banned.
import ipaddr from 'ipaddr.js'
import { v6NetOf } from './backends/validate.js'
import type { DesiredBan } from './reconcile.js'

/** Why the /64 `net` (canonical `x::/64`) must not be banned in `jail`, or null when it may be. */
export type NetProtectionCheck = (jail: string, net: string) => string | null

export type Escalation = Readonly<{ threshold: number; protection: NetProtectionCheck }>

/** Replaces, per jail, every group of >= threshold IPv6 bans of one /64
 *  by one ban of the /64 lasting as long as the longest of them. Off (the
 *  bans as they are) when `escalation` is null. */
export function escalate(desired: readonly DesiredBan[], escalation: Escalation | null): DesiredBan[] {
  if (escalation === null) return [...desired]
  const groups = new Map<string, { jail: string; net: string; bans: DesiredBan[] }>()
  for (const b of desired) {
    const net = v6NetOf(b.ip)
    if (net === null) continue
    const key = `${b.jail} ${net}`
    const group = groups.get(key) ?? { jail: b.jail, net, bans: [] }
    groups.set(key, group)
    group.bans.push(b)
  }
  const replaced = new Set<DesiredBan>()
  const out: DesiredBan[] = []
  for (const g of groups.values()) {
    if (new Set(g.bans.map(b => b.ip)).size < escalation.threshold) continue
    if (escalation.protection(g.jail, g.net) !== null) continue
    for (const b of g.bans) replaced.add(b)
    out.push({ jail: g.jail, ip: g.net, until: Math.max(...g.bans.map(b => b.until)) })
  }
  return [...desired.filter(b => !replaced.has(b)), ...out]
}

type Range = readonly [ipaddr.IPv6, number]

/** The IPv6 ranges of address/CIDR entries; null when one cannot be read
 *  (then nothing may be escalated: better no /64 ban than a wrong one). */
function v6Ranges(entries: readonly string[]): Range[] | null {
  const out: Range[] = []
  for (const entry of entries) {
    let addr: ipaddr.IPv4 | ipaddr.IPv6
    let bits: number
    try {
      ;[addr, bits] = entry.includes('/') ? ipaddr.parseCIDR(entry) : [ipaddr.parse(entry), 128]
    } catch {
      return null
    }
    if (addr.kind() === 'ipv6') out.push([addr as ipaddr.IPv6, bits])
  }
  return out
}

/** A /64 and a range overlap when they agree on their shorter prefix. */
function overlaps(net: ipaddr.IPv6, [addr, bits]: Range): boolean {
  return bits <= 64 ? net.match(addr, bits) : addr.match(net, 64)
}

/** Refuses a /64 that overlaps any of the entries (addresses or CIDR ranges):
 *  `global` for every jail (ignoreip, this host's addresses, its gateways),
 *  `perJail` for one jail (its ignoreip). */
export function netProtectionCheck(global: readonly string[], perJail: ReadonlyMap<string, readonly string[]>): NetProtectionCheck {
  const all = v6Ranges(global)
  const jails = new Map([...perJail].map(([jail, entries]) => [jail, v6Ranges(entries)]))
  return (jail, net) => {
    const own = jails.get(jail) ?? []
    if (all === null || own === null) return 'an ignore entry could not be read'
    let start: ipaddr.IPv6
    try {
      const [addr, bits] = ipaddr.parseCIDR(net)
      if (addr.kind() !== 'ipv6' || bits !== 64) return 'not an IPv6 /64'
      start = addr as ipaddr.IPv6
    } catch {
      return 'not an IPv6 /64'
    }
    if ([...all, ...own].some(r => overlaps(start, r))) {
      return 'it overlaps an ignore list, this host\'s addresses or its gateways'
    }
    return null
  }
}
