// Built-in `apache-auth` filter, written for this project: authentication
// failures in Apache httpd's error log, 2.2 and 2.4 formats:
//   [Tue Nov 03 10:00:02.123456 2026] [auth_basic:error] [pid 1:tid 2] [client 203.0.113.7:51234] AH01618: user alice not found: /private
//   [Tue Nov 03 10:00:02 2026] [error] [client 203.0.113.7] user alice: authentication failure for "/x": Password Mismatch
// Everything before the message is written by httpd from fixed fields (its
// clock, module and level, process ids, the peer address); the client's
// text (user name, URI, `, referer: ...`) only comes after `[client ...] `.
// The address is therefore the `[client ...]` field of that fixed prefix,
// never something found in the message. Messages end in free text (URI,
// reason, referer), so they are matched on their fixed start only.
//
// Apache 2.4 writes the peer as `<ip>:<port>` with no brackets, also for
// IPv6 (`[client 2001:db8::7:51234]`): the last `:<digits>` is the port.
// 2.2 writes no port. `[client [2001:db8::7]:51234]` is accepted too.
import { chomp, matchOf } from './address.js'
import type { FilterMatch, LineFilter } from './filter.js'
import { parseApacheErrorTime } from './web-time.js'

// [time] [module:level] or [level] [pid P(:tid T)] [remote R] [client C] message
const HEAD = /^\[(?<time>[^\]]{1,40})\] \[(?:(?<module>[\w-]{1,40}):)?\w{1,10}\] (?:\[pid \d{1,10}(?::tid \d{1,20})?\] )?(?:\[remote [^\]\s]{1,60}\] )?\[client (?:\[(?<bracketed>[0-9A-Fa-f:.]{1,45})\]:\d{1,5}|(?<client>[^\]\s[]{1,60}))\] (?<message>.*)$/s

const PORT = /^(?<ip>[0-9A-Fa-f:.]{1,45}):\d{1,5}$/
const ERROR_CODE = /^AH\d{5}: /

// Each starts at the message (after an optional `AH01234: `), is anchored
// at both ends, and has one lazy user group followed by fixed text.
const MESSAGES: readonly RegExp[] = [
  // mod_auth_digest (2.2 prefixes them with `Digest: `); first, as the
  // basic `user ... not found` would also read the digest one.
  /^(?:Digest: )?user `(?<user>.*?)' in realm `[^']*' not found: .*$/s,
  /^(?:Digest: )?user (?<user>.*?): password mismatch: .*$/s,
  /^(?:Digest: )?realm mismatch - got `.*$/s,
  /^(?:Digest: )?invalid nonce .* received - .*$/s,
  /^(?:Digest: )?client used wrong authentication scheme `.*$/s,
  // mod_auth_basic: unknown user; wrong password or other authn failure; no Basic credentials.
  /^user (?<user>.*?) not found(?:: .*)?$/s,
  /^user (?<user>.*?): authentication failure for ".*$/s,
  /^client used wrong authentication scheme: .*$/s,
]

class ApacheAuthFilter implements LineFilter {
  readonly name = 'apache-auth'

  match(line: string, _now: number): FilterMatch | null {
    if (line.charCodeAt(0) !== 91 /* [ */) return null
    const groups = HEAD.exec(chomp(line))?.groups
    if (groups === undefined) return null
    const at = parseApacheErrorTime(groups.time ?? '')
    if (at === null) return null
    let message = groups.message ?? ''
    if (ERROR_CODE.test(message)) message = message.slice(9)
    for (const pattern of MESSAGES) {
      const found = pattern.exec(message)
      if (found === null) continue
      return matchOf(clientAddress(groups), at, found.groups?.user)
    }
    return null
  }
}

/** The peer address of the `[client ...]` field: 2.4 (with a module in
 *  the level field) appends `:<port>`, 2.2 does not. */
function clientAddress(groups: Readonly<Record<string, string | undefined>>): string | undefined {
  if (groups.bracketed !== undefined) return groups.bracketed
  const client = groups.client ?? ''
  if (groups.module === undefined) return client
  return PORT.exec(client)?.groups?.ip ?? client
}

/** Failed Basic and Digest authentications in Apache's error log. */
export const apacheAuthFilter: LineFilter = new ApacheAuthFilter()
