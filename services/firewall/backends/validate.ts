// Defence in depth for every firewall adapter: jail names, addresses, ports
// and timeouts are checked here BEFORE any command text is built. The worker
// validates first; anything that still looks wrong is a programmer error
// (TypeError), and no command runs.
import ipaddr from 'ipaddr.js'
import { canonicalAddress } from '../../../ledger/rules/addresses.js'
import type { FirewallChanges, JailScope } from '../backend.js'

const JAIL = /^[a-z0-9][a-z0-9_-]{0,31}$/

function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value)
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text)
}

/** `maxLength`: a backend whose object names are shorter (ipset, iptables) says so. */
export function checkJail(name: unknown, maxLength = 32): string {
  if (typeof name !== 'string' || !JAIL.test(name)) throw new TypeError(`not a jail name: ${shown(name)}`)
  if (name.length > maxLength) {
    throw new TypeError(`jail name ${shown(name)} is too long for this firewall backend (${maxLength} chars at most)`)
  }
  return name
}

/** The canonical text of an IPv6 /64 prefix (`2001:db8:1:2::/64`: the
 *  canonical address of its first address, host bits zero), or null when
 *  `text` is not exactly that. Every other prefix length, IPv4 prefixes and
 *  `::/64` (loopback, unspecified) are refused. */
export function canonicalV6Net(text: string): string | null {
  if (text.length > 64 || !text.endsWith('/64')) return null
  const host = text.slice(0, -3)
  if (canonicalAddress(host) !== host || !host.includes(':') || host === '::') return null
  const bytes = ipaddr.IPv6.parse(host).toByteArray()
  return bytes.slice(8).every(b => b === 0) ? text : null
}

/** A /64 as a firewall lists it (`addr/64`, `addr` in any valid form), canonical; null otherwise. */
export function listedV6Net(text: string): string | null {
  const slash = text.indexOf('/')
  const addr = slash === -1 ? null : canonicalAddress(text.slice(0, slash))
  return addr === null || text.slice(slash) !== '/64' ? null : canonicalV6Net(`${addr}/64`)
}

/** The /64 an IPv6 address is in, as canonicalV6Net text; null for IPv4. */
export function v6NetOf(ip: string): string | null {
  if (!ip.includes(':')) return null
  const bytes = ipaddr.IPv6.parse(ip).toByteArray().slice(0, 8).concat([0, 0, 0, 0, 0, 0, 0, 0])
  const start = canonicalAddress(ipaddr.fromByteArray(bytes).toNormalizedString())
  return start === null ? null : canonicalV6Net(`${start}/64`)
}

/** Refuses anything that is not a canonical address or a canonical IPv6 /64. */
export function checkIp(ip: unknown): { v6: boolean; net: boolean } {
  if (typeof ip === 'string' && canonicalAddress(ip) === ip) return { v6: ip.includes(':'), net: false }
  if (typeof ip === 'string' && canonicalV6Net(ip) === ip) return { v6: true, net: true }
  throw new TypeError(`not a canonical address or IPv6 /64: ${shown(ip)}`)
}

export function checkScope(scope: JailScope, maxJailLength?: number): JailScope {
  checkJail(scope.name, maxJailLength)
  if (scope.protocol !== 'tcp' && scope.protocol !== 'udp') throw new TypeError(`not a protocol: ${shown(scope.protocol)}`)
  for (const port of scope.ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`not a port: ${shown(port)}`)
  }
  return { name: scope.name, protocol: scope.protocol, ports: [...new Set(scope.ports)].sort((a, b) => a - b) }
}

/** `net`: `ip` is an IPv6 /64 prefix (v6 is then true). */
export type PlannedBan = Readonly<{ jail: string; ip: string; v6: boolean; net: boolean }>
export type PlannedAdd = PlannedBan & Readonly<{ timeout: number; retime: boolean }>
/** What a batch really asks for: an address deleted then added is an add
 *  whose timeout is set anew (retime); the last add of an address wins. */
export type Plan = Readonly<{ del: readonly PlannedBan[]; add: readonly PlannedAdd[] }>

/** Validates the whole batch first, then plans it; throws before any command. */
export function planChanges(changes: FirewallChanges, maxJailLength?: number): Plan {
  const adds = new Map<string, PlannedAdd>()
  const dels = new Map<string, PlannedBan>()
  for (const d of changes.del) {
    checkJail(d.jail, maxJailLength)
    const { v6, net } = checkIp(d.ip)
    dels.set(`${d.jail} ${d.ip}`, { jail: d.jail, ip: d.ip, v6, net })
  }
  for (const a of changes.add) {
    checkJail(a.jail, maxJailLength)
    const { v6, net } = checkIp(a.ip)
    if (typeof a.timeout !== 'number' || !Number.isFinite(a.timeout) || a.timeout <= 0) {
      throw new TypeError(`not a timeout in ms: ${shown(a.timeout)}`)
    }
    const key = `${a.jail} ${a.ip}`
    const retime = a.retime === true || dels.delete(key) || adds.get(key)?.retime === true
    adds.delete(key)
    adds.set(key, { jail: a.jail, ip: a.ip, v6, net, timeout: a.timeout, retime })
  }
  return { del: [...dels.values()], add: [...adds.values()] }
}

/** Whole seconds, at least 1, at most `max`. */
export function timeoutSeconds(ms: number, max: number): number {
  return Math.min(max, Math.max(1, Math.ceil(ms / 1000)))
}
