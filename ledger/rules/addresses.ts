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
  if (dottedQuad(text) !== null) return text
  return plainIpv6(text) ?? ipv6ByUrl(text)
}

/** canonicalAddress for any IPv6 text, through WHATWG URL's IPv6 host
 *  parser: strict (RFC 4291 text forms only), serialising as RFC 5952; the
 *  character check keeps `text` inside the brackets. */
export function ipv6ByUrl(text: string): string | null {
  if (!text.includes(':') || !IPV6_CHARS.test(text)) return null
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

const pieces = new Uint16Array(8)

/** The canonical text of the usual IPv6 text: 8 groups of 1 to 4 hex
 *  digits, or fewer with one `::` standing for at least one zero group;
 *  undefined for anything else (dotted IPv4 parts, odd or invalid forms),
 *  which ipv6ByUrl then decides. By hand: a URL costs about 1 us and a
 *  flood from an IPv6 range repeats few addresses. The answer is
 *  ipv6ByUrl's (test/unit/addresses-ipv6.test.ts compares them). */
export function plainIpv6(text: string): string | undefined {
  const length = text.length
  if (length < 2 || length > 39) return undefined
  let n = 0
  let compress = -1
  let i = 0
  /** No upper case, no leading zero: the text may be canonical already. */
  let canonical = true
  if (text.charCodeAt(0) === COLON) {
    if (text.charCodeAt(1) !== COLON) return undefined
    compress = 0
    i = 2
  }
  while (i < length) {
    if (n === 8) return undefined
    if (text.charCodeAt(i) === COLON) {
      if (compress !== -1) return undefined
      compress = n
      i++
      continue
    }
    let value = 0
    const start = i
    while (i < length && i - start < 5) {
      const c = text.charCodeAt(i)
      const d = hexDigit(c)
      if (d < 0) break
      if (c >= 65 && c <= 70) canonical = false // upper case
      value = value * 16 + d
      i++
    }
    if (i === start || i - start > 4) return undefined
    if (i - start > 1 && text.charCodeAt(start) === 48) canonical = false // a leading zero
    pieces[n++] = value
    if (i === length) break
    if (text.charCodeAt(i) !== COLON || i + 1 === length) return undefined
    i++
  }
  if (compress === -1 ? n !== 8 : n === 8) return undefined
  // Move the pieces after `::` to the end and zero what it stands for.
  if (compress !== -1) {
    const after = n - compress
    for (let k = 0; k < after; k++) pieces[7 - k] = pieces[n - 1 - k] as number
    for (let k = compress; k < 8 - after; k++) pieces[k] = 0
  }
  // IPv4-mapped (::ffff:a.b.c.d) is written as IPv4, as canonicalAddress does.
  if (pieces[0] === 0 && pieces[1] === 0 && pieces[2] === 0 && pieces[3] === 0 && pieces[4] === 0 && pieces[5] === 0xffff) {
    const hi = pieces[6] as number
    const lo = pieces[7] as number
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`
  }
  // RFC 5952: the first longest run of two or more zero groups becomes `::`.
  let best = -1
  let bestLength = 1
  for (let k = 0; k < 8;) {
    if (pieces[k] !== 0) { k++; continue }
    let end = k + 1
    while (end < 8 && pieces[end] === 0) end++
    if (end - k > bestLength) { best = k; bestLength = end - k }
    k = end
  }
  // Usually the text is canonical already (sshd writes inet_ntop's form):
  // then it is the answer, with nothing built.
  if (canonical && (compress === -1 ? best === -1 : compress === best && 8 - n === bestLength)) return text
  let out = ''
  for (let k = 0; k < 8; k++) {
    if (k === best) {
      out += k === 0 ? '::' : ':'
      k += bestLength - 1
      continue
    }
    out += (pieces[k] as number).toString(16)
    if (k < 7) out += ':'
  }
  return out
}

const COLON = 58

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

/** The value of a plain dotted quad, unsigned 32-bit, or null for any other
 *  text: four decimal parts of 0-255, no leading zero (octal 010), no hex
 *  or short forms. By hand: this runs for every failure a filter finds and
 *  every address the ledger looks up, and a RegExp match costs several
 *  times more. */
export function dottedQuad(s: string): number | null {
  return dottedQuadAt(s, 0, s.length)
}

/** dottedQuad of src[start, end): characters of a string, or the bytes of
 *  its UTF-8 text (replay reads stored addresses without making strings;
 *  a byte of a multi-byte character is never an ASCII digit or dot). */
export function dottedQuadAt(src: string | Uint8Array, start: number, end: number): number | null {
  let parts = 0
  let n = 0
  let value = 0
  let digits = 0
  for (let i = start; i <= end; i++) {
    // a final '.' closes the last part
    const c = i === end ? 46 : typeof src === 'string' ? src.charCodeAt(i) : src[i] as number
    if (c === 46) {
      if (digits === 0 || value > 255) return null
      n = n * 256 + value
      parts++
      value = 0
      digits = 0
    } else {
      if (c < 48 || c > 57 || digits === 3 || (digits === 1 && value === 0)) return null
      value = value * 10 + c - 48
      digits++
    }
  }
  return parts === 4 ? n : null
}

/** An address as a map key: canonical IPv4 text as its value, a signed
 *  32-bit integer (a small integer in V8: compared in place, no string to
 *  load, hash or keep), any other text as itself. */
export type AddressKey = number | string

/** The last text addressKey parsed, and its key: an input's address is
 *  looked up in the ignore lists and in several projection maps in a row. */
let memoText = ''
let memoKey: AddressKey = ''

export function addressKey(ip: string): AddressKey {
  if (ip !== memoText) {
    const value = dottedQuad(ip)
    memoKey = value === null ? ip : value | 0
    memoText = ip
  }
  return memoKey
}

/** The text of an address key. */
export const addressText = (key: AddressKey): string =>
  typeof key === 'string' ? key : `${key >>> 24}.${(key >>> 16) & 255}.${(key >>> 8) & 255}.${key & 255}`

type Range = readonly [ipaddr.IPv4 | ipaddr.IPv6, number]

/** A set of addresses and CIDR ranges, IPv4 and IPv6. IPv4 is matched on
 *  numbers (this runs for every failure), IPv6 with ipaddr.js. */
export class AddressSet {
  /** [network, mask] pairs, unsigned 32-bit. */
  readonly #v4: (readonly [number, number])[] = []
  /** Single IPv4 addresses, by addressKey. */
  readonly #v4Exact = new Set<number>()
  readonly #v6: Range[] = []
  /** Single IPv6 addresses, canonical. */
  readonly #exact = new Set<string>()

  /** Throws a TypeError naming the entry when one is neither an address nor a range. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const range = parseRange(entry)
      if (range === null) throw new TypeError(`not an address or CIDR range: ${JSON.stringify(entry)}`)
      const [addr, bits] = range
      if (addr.kind() === 'ipv4') {
        if (bits === 32) this.#v4Exact.add(addressKey(addr.toString()) as number)
        else {
          const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
          this.#v4.push([((dottedQuad(addr.toString()) ?? 0) & mask) >>> 0, mask])
        }
      } else {
        if (bits === 128) this.#exact.add(addr.toString())
        else this.#v6.push(range)
      }
    }
  }

  /** `ip` must be canonical (see canonicalAddress). */
  has(ip: string): boolean {
    const key = addressKey(ip)
    if (typeof key === 'number') {
      if (this.#v4Exact.has(key)) return true
      const n = key >>> 0
      const v4 = this.#v4
      for (let k = 0; k < v4.length; k++) { // indexed: see evolve.ts' withFailure
        const range = v4[k] as readonly [number, number]
        if (((n & range[1]) >>> 0) === range[0]) return true
      }
      return false
    }
    if (!ip.includes(':')) return false
    if (this.#exact.has(ip)) return true
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
