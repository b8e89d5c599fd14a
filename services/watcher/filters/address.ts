// The address a filter captured, validated and canonicalised. Shared by the
// filters in this folder (sshd keeps its own copy of the same idea).
import { canonicalAddress } from '../../../ledger/rules/addresses.js'
import { truncateUser, type FilterMatch } from './filter.js'

// canonicalAddress is pure but not cheap (about 0.7 us for IPv4, 5 us for
// IPv6), and attacks repeat a few addresses many times: remember recent
// answers, in a map that is emptied when full so memory stays bounded.
const MEMO_SIZE = 4096
const memo = new Map<string, string | null>()

/** The canonical form of `text`, or null when it is not an IP address. */
export function canonicalIp(text: string): string | null {
  const v6 = plainIpv6(text)
  if (v6 !== undefined) return v6
  let ip = memo.get(text)
  if (ip === undefined) {
    ip = canonicalAddress(text)
    if (memo.size >= MEMO_SIZE) memo.clear()
    memo.set(text, ip)
  }
  return ip
}

const pieces = new Uint16Array(8)

/** canonicalAddress(text) for the usual IPv6 text: 8 groups of 1 to 4 hex
 *  digits, or fewer with one `::` standing for at least one zero group;
 *  undefined for anything else (dotted IPv4 parts, odd or invalid forms),
 *  which canonicalAddress then decides. By hand: canonicalAddress goes
 *  through a URL (about 1 us), and floods from IPv6 ranges repeat few
 *  addresses, so the memo rarely holds them. The answer is the same
 *  (test/unit/watcher-address.test.ts checks it against canonicalAddress). */
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

/** `line` without its trailing CR/LF. */
export function chomp(line: string): string {
  let end = line.length
  while (end > 0) {
    const c = line.charCodeAt(end - 1)
    if (c !== 10 && c !== 13) break
    end--
  }
  return end === line.length ? line : line.slice(0, end)
}

/** The match for a captured address text, time and user name: null when
 *  the text is not an IP address; an empty or absent user is left out. */
export function matchOf(ipText: string | undefined, at: number, user?: string): FilterMatch | null {
  const ip = canonicalIp(ipText ?? '')
  if (ip === null) return null
  return user === undefined || user === '' ? { ip, at } : { ip, at, user: truncateUser(user) }
}
