// Built-in `nginx-http-auth` filter, written for this project: Basic
// authentication failures in nginx's error log:
//   2026/11/03 10:00:02 [error] 123#123: *45 user "alice" was not found in "/etc/nginx/.htpasswd", client: 203.0.113.7, server: example.org, request: "GET /private HTTP/1.1", host: "example.org"
//   ... user "alice": password mismatch, client: 203.0.113.7, server: ...
//   ... no user/password was provided for basic authentication, client: 203.0.113.7, server: ...
// nginx writes the user name as received, unescaped (quotes included),
// BEFORE the address, and the request line and headers (also the client's)
// AFTER it: neither end of the line is a safe anchor. A user name holding
// `": password mismatch, client: 198.51.100.9` would make a first-match
// parse take the wrong address, and a Referer holding the same text would
// fool a last-match parse. So the fixed text that closes the user name must
// occur exactly once in the line: then the user name is everything before
// it (quotes and all) and the address is the `client: ` field right after
// it (and the other message's closing text must not occur at all). A line
// where it occurs twice reads two ways and is no match: a client
// can hide its attempt that way, but can never pin one on another address.
// The third message carries no client text before the address: the first
// `client: ` after its fixed text is the real one.
import { chomp, matchOf } from './address.js'
import type { FilterMatch, LineFilter } from './filter.js'
import { parseNginxTime } from './web-time.js'

// time [level] PID#TID: [*CONNECTION ]message
const HEAD = /^(?<time>\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d) \[\w{1,10}\] \d{1,10}#\d{1,20}: (?:\*\d{1,20} )?(?<message>.*)$/s

// After the address: nginx's own `, server: ...` and the rest (free text).
const TAIL = String.raw`, client: (?<ip>[^,\s]{1,60})(?:, .*)?$`

type UserRule = Readonly<{ closing: string; rest: RegExp }>
const USER = 'user "'
const USER_RULES: readonly UserRule[] = [
  { closing: '" was not found in "', rest: new RegExp(String.raw`^" was not found in "[^"]*"${TAIL}`, 's') },
  { closing: '": password mismatch, client: ', rest: new RegExp(String.raw`^": password mismatch${TAIL}`, 's') },
]
// Also logged for a browser's first request, before it asks for a password.
const NO_CREDENTIALS = new RegExp(String.raw`^no user\/password was provided for basic authentication${TAIL}`, 's')

class NginxHttpAuthFilter implements LineFilter {
  readonly name = 'nginx-http-auth'

  match(line: string, _now: number): FilterMatch | null {
    const groups = HEAD.exec(chomp(line))?.groups
    if (groups === undefined) return null
    const found = failure(groups.message ?? '')
    if (found === null) return null
    const at = parseNginxTime(groups.time ?? '')
    return at === null ? null : matchOf(found.ip, at, found.user)
  }
}

function failure(message: string): { ip: string | undefined; user?: string } | null {
  if (message.startsWith(USER)) {
    let found: { ip: string | undefined; user?: string } | null = null
    for (const rule of USER_RULES) {
      const end = message.indexOf(rule.closing, USER.length)
      if (end < 0) continue
      // Twice, or both messages' closing texts: the line reads two ways.
      if (found !== null || message.indexOf(rule.closing, end + 1) >= 0) return null
      const ip = rule.rest.exec(message.slice(end))?.groups?.ip
      if (ip === undefined) return null
      found = { ip, user: message.slice(USER.length, end) }
    }
    return found
  }
  const ip = NO_CREDENTIALS.exec(message)?.groups?.ip
  return ip === undefined ? null : { ip }
}

/** Unknown users, wrong passwords and missing credentials (Basic auth). */
export const nginxHttpAuthFilter: LineFilter = new NginxHttpAuthFilter()
