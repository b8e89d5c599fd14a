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
  let ip = memo.get(text)
  if (ip === undefined) {
    ip = canonicalAddress(text)
    if (memo.size >= MEMO_SIZE) memo.clear()
    memo.set(text, ip)
  }
  return ip
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
