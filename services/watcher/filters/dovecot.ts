// Built-in `dovecot` filter, written for this project: failed logins to
// Dovecot (IMAP, POP3, ManageSieve, submission), from the login process
//   Nov  3 10:00:02 mail dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<alice>, method=PLAIN, rip=203.0.113.7, lip=192.0.2.1, session=<AbC>
// and from the auth process
//   Nov  3 10:00:02 mail dovecot: auth-worker(123): pam(alice,203.0.113.7,<AbC>): pam_authenticate() failed: Authentication failure (password mismatch?)
//   Nov  3 10:00:02 mail dovecot: auth: passwd-file(alice,203.0.113.7): unknown user
// through syslog (program `dovecot`) or in Dovecot's own log file, where the
// line reads `Nov 03 10:00:02 imap-login: Info: ...`.
//
// The user name is the client's and comes BEFORE the address in both.
// - Login lines: the user group is greedy and everything after the address
//   is Dovecot's own fields (`lip=`, `mpid=`, TLS state, `session=<id>`),
//   none free text: the address is the `rip=` just before that fixed tail.
// - Auth lines: Dovecot omits the address when it has none, so a user name
//   holding a comma could stand in for it: such a name is no match (the
//   login process logs the same attempt with its `rip=`).
import { chomp, matchOf } from './address.js'
import type { FilterMatch, LineFilter } from './filter.js'
import { parseSyslogTime } from './syslog-time.js'
import { syslogParts } from './syslog-line.js'

// <service>[(pid)]: [Level: ]<body>
const SERVICE = /^(?<service>[a-z][\w-]{0,40})(?:\(\d{1,10}\))?: (?:(?<level>Info|Warning|Error|Debug): )?(?<body>.*)$/s
const LOGIN_SERVICE = /^[a-z][\w-]{0,30}-login$/

const LOGIN_FAILED = /^(?:Disconnected|Aborted login|Login aborted)(?:: [^():]{1,100})? \(auth failed, \d{1,10} attempts(?: in \d{1,10} secs?)?\)(?: \([\w-]{1,40}\))?: (?:user=<(?<user>.*)>, )?(?:method=[\w-]{1,40}, )?rip=(?<ip>[^,\s]{1,60}), lip=[^,\s]{1,60}(?:, mpid=\d{1,10})?(?:, (?:TLS|secured)[^,]{0,200})?(?:, session=<[^<>,\s]{0,100}>)?$/s

const GIVEN = String.raw`(?: \(SHA1 of given password: [0-9a-f]{1,64}\))?`
const AUTH_FAILED = new RegExp(String.raw`^(?:pam|passwd-file|passwd|shadow|sql|ldap|bsdauth|checkpassword|lua)\((?<user>[^,]*),(?<ip>[^,\s()<>]{1,60})(?:,<[^<>,\s]{0,100}>)?\): (?:unknown user${GIVEN}|Password mismatch${GIVEN}|pam_authenticate\(\) failed: [A-Za-z ]{1,100}(?: \(password mismatch\?\))?)$`, 's')

class DovecotFilter implements LineFilter {
  readonly name = 'dovecot'

  match(line: string, now: number): FilterMatch | null {
    const time = parseSyslogTime(line, now)
    if (time === null) return null
    const groups = serviceMessage(time.rest)
    if (groups === null) return null
    const service = groups.service ?? ''
    const body = groups.body ?? ''
    const pattern = LOGIN_SERVICE.test(service) ? LOGIN_FAILED
      : service === 'auth' || service === 'auth-worker' ? AUTH_FAILED
        : null
    const found = pattern?.exec(body)?.groups
    if (found === undefined) return null
    return matchOf(found.ip, time.at, found.user)
  }
}

/** The service and body of a Dovecot line after its timestamp: syslog's
 *  `<host> dovecot[PID]: <service>: ...`, or the log file's
 *  `<service>: <Level>: ...` (a level is required there). */
function serviceMessage(rest: string): Readonly<Record<string, string | undefined>> | null {
  const parts = syslogParts(rest)
  if (parts !== null && parts.program === 'dovecot') return SERVICE.exec(parts.message)?.groups ?? null
  const groups = SERVICE.exec(chomp(rest))?.groups
  return groups?.level === undefined ? null : groups
}

/** Failed IMAP/POP3/ManageSieve/submission logins and the auth process's
 *  unknown users and wrong passwords. */
export const dovecotFilter: LineFilter = new DovecotFilter()
