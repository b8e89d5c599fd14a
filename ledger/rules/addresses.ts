// Address parsing and ignore lists (R9). Every address that enters the
// ledger is parsed and re-serialised here, so one address has one text form.
import ipaddr from 'ipaddr.js'

const MAX_ADDRESS_TEXT = 64

const IPV6_CHARS = /^[0-9A-Fa-f:.]{2,45}$/
const MAPPED = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/

/** The canonical text of an IPv4 or IPv6 address (IPv4-mapped IPv6 becomes
 *  IPv4; IPv6 is compressed, lower case, RFC 5952), or null when `text` is
 *  not one. Zone ids, prefixes and anything else are refused. Runs for every
 *  address a watcher, the CLI or a firewall listing hands over. */
export function canonicalAddress(text: string): string | null {
  if (text.length > MAX_ADDRESS_TEXT) return null
  if (isDottedQuad(text)) return text
  if (!text.includes(':') || !IPV6_CHARS.test(text)) return null
  // WHATWG URL's IPv6 host parser is strict (RFC 4291 text forms only) and
  // serialises as RFC 5952; the character check above keeps `text` inside
  // the brackets.
  let host: string
  try {
    host = new URL(`http://[${text}]/`).hostname
  } catch {
    return null
  }
  const v6 = host.slice(1, -1)
  const mapped = MAPPED.exec(v6)
  if (mapped !== null) {
    const hi = parseInt(mapped[1] as string, 16)
    const lo = parseInt(mapped[2] as string, 16)
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  return v6
}

/** Only the plain dotted quad: four decimal parts of 0-255, no leading
 *  zero (octal 010), no hex or short forms. By hand: this runs for every
 *  failure a filter finds, and a RegExp match costs several times more. */
function isDottedQuad(s: string): boolean {
  let parts = 0
  let value = 0
  let digits = 0
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46 // a final '.' closes the last part
    if (c === 46) {
      if (digits === 0 || value > 255) return false
      parts++
      value = 0
      digits = 0
    } else {
      if (c < 48 || c > 57 || digits === 3 || (digits === 1 && value === 0)) return false
      value = value * 10 + c - 48
      digits++
    }
  }
  return parts === 4
}

type Range = readonly [ipaddr.IPv4 | ipaddr.IPv6, number]

/** A canonical dotted quad as an unsigned 32-bit number (no allocation:
 *  this runs for every failure checked against an IPv4 range). */
function v4Number(ip: string): number {
  let n = 0
  let part = 0
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i)
    if (c === 46) {
      n = n * 256 + part
      part = 0
    } else {
      part = part * 10 + (c - 48)
    }
  }
  return n * 256 + part
}

/** A set of addresses and CIDR ranges, IPv4 and IPv6. IPv4 ranges are
 *  matched on numbers (this runs for every failure), IPv6 with ipaddr.js. */
export class AddressSet {
  /** [network, mask] pairs, unsigned 32-bit. */
  readonly #v4: (readonly [number, number])[] = []
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
        else {
          const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
          this.#v4.push([(v4Number(addr.toString()) & mask) >>> 0, mask])
        }
      } else {
        if (bits === 128) this.#exact.add(addr.toString())
        else this.#v6.push(range)
      }
    }
  }

  /** `ip` must be canonical (see canonicalAddress). */
  has(ip: string): boolean {
    if (this.#exact.has(ip)) return true
    if (!ip.includes(':')) {
      const n = v4Number(ip)
      for (const [net, mask] of this.#v4) if (((n & mask) >>> 0) === net) return true
      return false
    }
    if (this.#v6.length === 0) return false
    let addr: ipaddr.IPv4 | ipaddr.IPv6
    try {
      addr = ipaddr.parse(ip)
    } catch {
      return false
    }
    if (addr.kind() !== 'ipv6') return false
    for (const [net, bits] of this.#v6) {
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
