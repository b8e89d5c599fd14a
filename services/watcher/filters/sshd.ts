// Built-in OpenSSH filters, written for this project: `sshd` (failures) and
// `sshd-success`. A line is `<timestamp> <host> sshd[PID]: <message>`; the
// program may also be `sshd-session` (OpenSSH 9.8+) or `sshd-auth` (10.0+).
//
// User names are chosen by the client and sshd logs them as they came (only
// control bytes are escaped), so a name like `root from 198.51.100.9 port 22
// ssh2` must never make us take 198.51.100.9. Every message pattern is
// anchored at both ends and the address is captured only at a position fixed
// by text sshd writes itself:
// - where the attacker's text comes BEFORE the address (`Failed ... for <user>
//   from <addr> port <n> ssh2`), the user group is greedy and the tail after
//   the address is matched exactly and admits no free text, so the address is
//   the token just before that tail: the last `from <addr> port <n>`;
// - where it comes AFTER the address (pam_unix's `user=`, a client's
//   disconnect reason), every field before the address is a single token and
//   the address is the first one after that fixed prefix.
// The address group is any token (`\S+`), never an address-shaped pattern, so
// a host name in the fixed position is no match rather than a reason to look
// further left; canonicalAddress then validates it.
// Every pattern is a single pass of one free `.*` against fixed literals and
// single tokens: no nested quantifiers, linear in the line's length.
import { canonicalAddress } from '../../../ledger/rules/addresses.js'
import { truncateUser, type FilterMatch, type LineFilter } from './filter.js'
import { parseSyslogTime } from './syslog-time.js'

type Rule = Readonly<{
  /** Cheap test before the regex. */
  prefix: string
  pattern: RegExp
}>

// The fixed tails sshd writes after the address.
const PREAUTH = String.raw`(?: \[preauth\])?`
// `: RSA SHA256:...` after publickey/hostbased: a key type and a fingerprint.
// Certificate lines (`... ID <key id> (serial N) CA ...`) carry a second
// client-chosen text after the address and cannot be parsed unambiguously:
// they are deliberately not matched (a public key cannot be brute-forced).
const KEY_INFO = String.raw`(?:: [A-Z0-9-]+ [\w+/=:]+)?`

const FAILURE_RULES: readonly Rule[] = [
  {
    // Failed password|publickey|none|keyboard-interactive/pam|... for [invalid user ]<user> from <addr> port <n> ssh2[: <key>]
    prefix: 'Failed ',
    pattern: new RegExp(String.raw`^Failed [\w/-]+ for (?:invalid user )?(?<user>.*) from (?<ip>\S+) port \d+ ssh2${KEY_INFO}$`, 's'),
  },
  {
    // Invalid user <user> from <addr> port <n>   (older OpenSSH: no port)
    prefix: 'Invalid user ',
    pattern: /^Invalid user (?<user>.*) from (?<ip>\S+)(?: port \d+)?$/s,
  },
  {
    // pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=<addr>  user=<user>
    // Every field up to rhost is one token; the user comes last. Should some
    // PAM stack put client text in ruser too, the line would read two ways
    // (`ruser=x rhost=<fake>  user=y rhost=<real>  user=z`): a user holding
    // ` rhost=` is therefore no match. sshd logs `Failed password` for the
    // same attempt, so such a name does not escape counting.
    prefix: 'pam_unix(sshd:auth): ',
    pattern: /^pam_unix\(sshd:auth\): authentication failure; logname=\S* uid=\d* euid=\d* tty=\S* ruser=\S* rhost=(?<ip>\S+)(?: {1,2}user=(?!.* rhost=)(?<user>.*)| ?)$/s,
  },
  {
    // [error: ]maximum authentication attempts exceeded for [invalid user ]<user> from <addr> port <n> ssh2 [preauth]
    prefix: '', // with or without `error: `
    pattern: new RegExp(String.raw`^(?:error: )?maximum authentication attempts exceeded for (?:invalid user )?(?<user>.*) from (?<ip>\S+) port \d+ ssh2${PREAUTH}$`, 's'),
  },
  {
    // Disconnecting authenticating|invalid user <user> <addr> port <n>: Too many authentication failures [preauth]
    prefix: 'Disconnecting ',
    pattern: new RegExp(String.raw`^Disconnecting (?:authenticating|invalid) user (?<user>.*) (?<ip>\S+) port \d+: Too many authentication failures${PREAUTH}$`, 's'),
  },
  {
    // Connection closed|reset by authenticating|invalid user <user> <addr> port <n> [preauth]
    // The client started authenticating and left without succeeding: counted
    // as a failure, because that is what probing keys (or user names) looks
    // like. A real user who gives up on a passphrase prompt is counted too.
    prefix: 'Connection ',
    pattern: new RegExp(String.raw`^Connection (?:closed|reset) by (?:authenticating|invalid) user (?<user>.*) (?<ip>\S+) port \d+${PREAUTH}$`, 's'),
  },
  {
    // Received disconnect from <addr> port <n>:11: Too many authentication failures [preauth]
    // (older OpenSSH: `from <addr>: 11: ...`). The reason is the client's own
    // text, after the address: the address is the first token.
    prefix: 'Received disconnect from ',
    pattern: new RegExp(String.raw`^Received disconnect from (?<ip>\S+)(?: port \d+:11|: 11): Too many authentication failures${PREAUTH}$`, 's'),
  },
]

const SUCCESS_RULES: readonly Rule[] = [
  {
    // Accepted password|publickey|keyboard-interactive/pam|... for <user> from <addr> port <n> ssh2[: <key info>]
    // An accepted user is an existing account: its name is one token, which
    // fixes the address from the left, so the tail may be anything
    // (certificate details included).
    prefix: 'Accepted ',
    pattern: /^Accepted [\w/-]+ for (?<user>\S+) from (?<ip>\S+) port \d+ ssh2(?:: .*)?$/s,
  },
]

class SshdFilter implements LineFilter {
  readonly name: string
  readonly #rules: readonly Rule[]

  constructor(name: string, rules: readonly Rule[]) {
    this.name = name
    this.#rules = rules
  }

  match(line: string, now: number): FilterMatch | null {
    const time = parseSyslogTime(line, now)
    if (time === null) return null
    const message = sshdMessage(time.rest)
    if (message === null) return null
    for (const rule of this.#rules) {
      if (!message.startsWith(rule.prefix)) continue
      const groups = rule.pattern.exec(message)?.groups
      if (groups === undefined) continue
      const ip = canonicalAddress(groups.ip ?? '')
      if (ip === null) return null
      const user = groups.user
      return user === undefined || user === ''
        ? { ip, at: time.at }
        : { ip, at: time.at, user: truncateUser(user) }
    }
    return null
  }
}

/** The message after `<host> sshd[PID]: `, or null when the line is not
 *  from sshd. Trailing CR/LF are dropped. */
function sshdMessage(rest: string): string | null {
  const space = rest.indexOf(' ')
  if (space <= 0) return null
  let i = space + 1
  if (!rest.startsWith('sshd', i)) return null
  i += 4
  if (rest.startsWith('-session', i)) i += 8
  else if (rest.startsWith('-auth', i)) i += 5
  if (rest.charCodeAt(i) === 91 /* [ */) {
    const open = i
    i++
    while (i - open <= 10 && isDigit(rest.charCodeAt(i))) i++
    if (i === open + 1 || rest.charCodeAt(i) !== 93 /* ] */) return null
    i++
  }
  if (rest.charCodeAt(i) !== 58 /* : */ || rest.charCodeAt(i + 1) !== 32) return null
  let end = rest.length
  while (end > i + 2) {
    const c = rest.charCodeAt(end - 1)
    if (c !== 10 && c !== 13) break
    end--
  }
  return rest.slice(i + 2, end)
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57
}

/** Authentication failures: wrong passwords and keys, unknown users, PAM
 *  failures, too many attempts, connections abandoned during authentication. */
export const sshdFilter: LineFilter = new SshdFilter('sshd', FAILURE_RULES)

/** Successful logins (`Accepted ... for <user> from <addr> ...`). */
export const sshdSuccessFilter: LineFilter = new SshdFilter('sshd-success', SUCCESS_RULES)
