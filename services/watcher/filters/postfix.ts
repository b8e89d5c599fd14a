// Built-in `postfix` filter, written for this project: failed SASL logins
// reported by Postfix's smtpd:
//   Nov  3 10:00:02 mail postfix/smtpd[123]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6
// The program may carry a multi-instance name and a master.cf service
// (`postfix-out/smtpd`, `postfix/submission/smtpd`). The `<name>[<addr>]`
// right after `warning: ` is written by smtpd itself: the name is the
// verified reverse DNS name or `unknown` (one token, no brackets), and the
// address is the bracketed field after it. The failure reason (from the
// SASL library) and `, sasl_username=<user>` come after it.
import { matchOf } from './address.js'
import type { FilterMatch, LineFilter } from './filter.js'
import { parseSyslogTime } from './syslog-time.js'
import { syslogParts } from './syslog-line.js'

const PROGRAM = /^postfix[\w.-]{0,40}\/(?:[\w.-]{1,40}\/)?smtpd$/
const SASL_FAILED = /^warning: [^\s[\]]{1,255}\[(?<ip>[^\s[\]]{1,60})\](?::\d{1,5})?: SASL [\w-]{1,40} authentication failed(?:: (?<reason>.*?))?(?:, sasl_username=(?<user>.*))?$/s

class PostfixSaslFilter implements LineFilter {
  readonly name = 'postfix'

  match(line: string, now: number): FilterMatch | null {
    const time = parseSyslogTime(line, now)
    if (time === null) return null
    const parts = syslogParts(time.rest)
    if (parts === null || !PROGRAM.test(parts.program)) return null
    const groups = SASL_FAILED.exec(parts.message)?.groups
    if (groups === undefined) return null
    return matchOf(groups.ip, time.at, groups.user)
  }
}

/** Failed SASL authentications (LOGIN, PLAIN, CRAM-MD5, ...) on smtpd. */
export const postfixFilter: LineFilter = new PostfixSaslFilter()
