// Address parsing and ignore lists (R9). Every address that enters the
// ledger is parsed and re-serialised here, so one address has one text form.
import ipaddr from 'ipaddr.js'

const MAX_ADDRESS_TEXT = 64

/** The canonical text of an IPv4 or IPv6 address (IPv4-mapped IPv6 becomes
 *  IPv4; IPv6 is compressed, lower case), or null when `text` is not one.
 *  Zone ids, prefixes and anything else are refused. */
export function canonicalAddress(text: string): string | null {
  if (text.length === 0 || text.length > MAX_ADDRESS_TEXT) return null
  if (!ipaddr.isValid(text)) return null
  if (text.includes('%')) return null
  let addr: ipaddr.IPv4 | ipaddr.IPv6
  try {
    addr = ipaddr.parse(text)
  } catch {
    return null
  }
  if (addr.kind() === 'ipv4') {
    // ipaddr accepts legacy forms (octal, hex, fewer than four parts) and
    // reads a leading zero as octal (010 = 8): only the plain dotted-quad
    // decimal form is an address in a log line or a config.
    if (!/^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/.test(text)) return null
    return addr.toString()
  }
  const v6 = addr as ipaddr.IPv6
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString()
  return v6.toString()
}

type Range = readonly [ipaddr.IPv4 | ipaddr.IPv6, number]

/** A set of addresses and CIDR ranges, IPv4 and IPv6. */
export class AddressSet {
  readonly #v4: Range[] = []
  readonly #v6: Range[] = []
  readonly #exact = new Set<string>()

  /** Throws a TypeError naming the entry when one is neither an address nor a range. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const range = parseRange(entry)
      if (range === null) throw new TypeError(`not an address or CIDR range: ${JSON.stringify(entry)}`)
      const [addr, bits] = range
      if (addr.kind() === 'ipv4') {
        if (bits === 32) this.#exact.add(addr.toString())
        else this.#v4.push(range)
      } else {
        if (bits === 128) this.#exact.add(addr.toString())
        else this.#v6.push(range)
      }
    }
  }

  /** `ip` must be canonical (see canonicalAddress). */
  has(ip: string): boolean {
    if (this.#exact.has(ip)) return true
    if (this.#v4.length === 0 && this.#v6.length === 0) return false
    let addr: ipaddr.IPv4 | ipaddr.IPv6
    try {
      addr = ipaddr.parse(ip)
    } catch {
      return false
    }
    const ranges = addr.kind() === 'ipv4' ? this.#v4 : this.#v6
    for (const [net, bits] of ranges) {
      if (addr.match(net, bits)) return true
    }
    return false
  }
}

/** `a.b.c.d/n`, `x::/n`, or a bare address (a host range). */
export function parseRange(entry: string): Range | null {
  const slash = entry.indexOf('/')
  const host = slash === -1 ? entry : entry.slice(0, slash)
  const canonical = canonicalAddress(host)
  if (canonical === null) return null
  const addr = ipaddr.parse(canonical)
  const width = addr.kind() === 'ipv4' ? 32 : 128
  if (slash === -1) return [addr, width]
  const bitsText = entry.slice(slash + 1)
  if (!/^\d{1,3}$/.test(bitsText)) return null
  const bits = Number(bitsText)
  if (bits > width) return null
  return [addr, bits]
}
