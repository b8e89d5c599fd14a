// A filter's match: the address it captured, validated and canonicalised
// (canonicalAddress), with its time and user. Shared by the filters in this
// folder (sshd builds its matches itself, with canonicalAddress too).
import { canonicalAddress } from '../../../ledger/rules/addresses.js'
import { truncateUser, type FilterMatch } from './filter.js'

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
  const ip = canonicalAddress(ipText ?? '')
  if (ip === null) return null
  return user === undefined || user === '' ? { ip, at } : { ip, at, user: truncateUser(user) }
}
