// Built-in `apache-badbots` filter, written for this project: requests in a
// web server's access log (Apache or nginx "combined" format) whose
// User-Agent names a known bad bot: e-mail harvesters, site rippers and
// vulnerability scanners.
//   203.0.113.7 - - [03/Nov/2026:10:00:02 +0100] "GET / HTTP/1.1" 200 512 "-" "EmailCollector/1.0"
// The client sends the request line, referer and agent, and may put quotes,
// addresses or bot names in any of them; httpd and nginx escape `"` inside
// those fields (`\"`, `\x22`). The address is the line's first field, which
// the server writes itself; the agent is the third quoted field, found by
// walking the quoted fields left to right with their escapes.
// Bot names are matched as whole words (not inside a longer word made of
// letters and digits), case-insensitively, as plain text: the list is
// never compiled into a regular expression.
import { chomp, matchOf } from './address.js'
import type { FilterMatch, LineFilter } from './filter.js'
import { parseAccessLogTime } from './web-time.js'

/** The default list: user agents that no legitimate visitor sends. */
export const DEFAULT_BAD_BOTS: readonly string[] = Object.freeze([
  // address harvesters
  'EmailCollector', 'EmailSiphon', 'EmailWolf', 'Email Extractor', 'WebEMailExtrac', 'ExtractorPro',
  'Atomic_Email_Hunter', 'CherryPicker', 'EmailHarvest', 'autoemailspider', 'Missigua Locator',
  // site rippers and spam tools
  'WebZIP', 'WebCopier', 'WebStripper', 'WebReaper', 'Teleport Pro', 'Offline Explorer', 'Website Quester',
  'BlackWidow', 'Indy Library', 'Microsoft URL Control', 'larbin', 'Zeus',
  // vulnerability scanners and probes
  'sqlmap', 'Nikto', 'Nmap Scripting Engine', 'masscan', 'zgrab', 'WPScan', 'DirBuster', 'gobuster',
  'Fuzz Faster U Fool', 'Netsparker', 'Arachni', 'w3af', 'Havij', 'ZmEu', 'Morfeus', 'Jorgee', 'muieblackcat',
])

// ip ident user [time] " ... the rest is walked by hand.
const HEAD = /^(?<ip>[^\s"[\]]{1,60}) [^\s"]{1,256} [^\s"]{1,256} \[(?<time>[^\]]{1,40})\] (?<rest>".*)$/s
const STATUS = /^ \d{3} (?:\d{1,20}|-) $/

const MAX_AGENT_LENGTH = 256

class BadBotsFilter implements LineFilter {
  readonly name = 'apache-badbots'
  readonly #agents: readonly string[]

  constructor(agents: readonly string[]) {
    this.#agents = agents
  }

  match(line: string, _now: number): FilterMatch | null {
    const groups = HEAD.exec(chomp(line))?.groups
    if (groups === undefined) return null
    const agent = userAgent(groups.rest ?? '')
    if (agent === null || !this.isBad(agent.toLowerCase())) return null
    const at = parseAccessLogTime(groups.time ?? '')
    if (at === null) return null
    return matchOf(groups.ip, at)
  }

  isBad(agent: string): boolean {
    for (const name of this.#agents) {
      let from = 0
      for (;;) {
        const i = agent.indexOf(name, from)
        if (i < 0) break
        if (!isWordChar(agent.charCodeAt(i - 1)) && !isWordChar(agent.charCodeAt(i + name.length))) return true
        from = i + 1
      }
    }
    return false
  }
}

/** The agent of `"request" status bytes "referer" "agent"[ more]`, unescaped,
 *  or null when `rest` does not have that shape. */
function userAgent(rest: string): string | null {
  const request = quoted(rest, 0)
  if (request < 0) return null
  const refererStart = rest.indexOf('"', request)
  if (refererStart < 0 || !STATUS.test(rest.slice(request, refererStart))) return null
  const referer = quoted(rest, refererStart)
  if (referer < 0 || rest.charCodeAt(referer) !== 32 || rest.charCodeAt(referer + 1) !== 34) return null
  const agentEnd = quoted(rest, referer + 1)
  if (agentEnd < 0 || (agentEnd !== rest.length && rest.charCodeAt(agentEnd) !== 32)) return null
  return unescape(rest.slice(referer + 2, agentEnd - 1))
}

/** The index just past the quoted field opening at `start`, or -1. */
function quoted(s: string, start: number): number {
  if (s.charCodeAt(start) !== 34) return -1
  for (let i = start + 1; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 92 /* \ */) i++
    else if (c === 34) return i + 1
  }
  return -1
}

/** `\"`, `\\` and `\xHH` decoded; other text kept as is. */
function unescape(field: string): string {
  if (!field.includes('\\')) return field
  return field.replace(/\\(?:x([0-9A-Fa-f]{2})|(.))/gs, (_all, hex: string | undefined, c: string | undefined) =>
    hex === undefined ? (c ?? '') : String.fromCharCode(parseInt(hex, 16)))
}

function isWordChar(c: number): boolean {
  // ASCII letters and digits; NaN (before the start, past the end) is not.
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
}

/** An `apache-badbots` filter matching the default list plus `extraAgents`
 *  (names or name fragments, matched as whole words, any case). Throws a
 *  TypeError when an entry is empty, blank or longer than 256 characters. */
export function badBotsFilter(extraAgents: readonly string[]): LineFilter {
  const agents = new Set<string>()
  for (const agent of [...DEFAULT_BAD_BOTS, ...extraAgents]) {
    if (typeof agent !== 'string' || agent.trim() === '' || agent.length > MAX_AGENT_LENGTH) {
      throw new TypeError(`badBotsFilter: a bad bot must be a non-blank string of at most ${MAX_AGENT_LENGTH} characters`)
    }
    agents.add(agent.trim().toLowerCase())
  }
  return new BadBotsFilter([...agents])
}

/** The default list only. */
export const apacheBadBotsFilter: LineFilter = badBotsFilter([])
