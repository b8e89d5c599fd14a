// The filters shipped with banledger, by name. All are written for this
// project; users' fail2ban filter files are read at run time elsewhere.
import { apacheAuthFilter } from './apache-auth.js'
import { apacheBadBotsFilter } from './apache-badbots.js'
import { dovecotFilter } from './dovecot.js'
import type { LineFilter } from './filter.js'
import { nginxHttpAuthFilter } from './nginx-http-auth.js'
import { postfixFilter } from './postfix.js'
import { sshdFilter, sshdSuccessFilter } from './sshd.js'

export const builtinFilters: ReadonlyMap<string, LineFilter> = new Map<string, LineFilter>(
  [
    sshdFilter, sshdSuccessFilter,
    apacheAuthFilter, apacheBadBotsFilter, nginxHttpAuthFilter,
    postfixFilter, dovecotFilter,
  ].map((filter) => [filter.name, filter]),
)

/** The built-in filter called `name`, or undefined when there is none. */
export function builtinFilter(name: string): LineFilter | undefined {
  return builtinFilters.get(name)
}

// What a built-in filter reads on the journal (a jail with backend: systemd
// and no journalmatch of its own), in fail2ban's journalmatch syntax.
// - OpenSSH logs its failures from a process running as root (the monitor:
//   `sshd`, `sshd-session` from 9.8, `sshd-auth` from 10.0). _UID is set by
//   journald from the sender's socket credentials, which no sender can
//   choose, and is always there; SYSLOG_IDENTIFIER is the program name the
//   sender gives. Together: a local user cannot feed this filter (e.g. with
//   `logger -t sshd`). _COMM (fail2ban's choice) is no better for that (a
//   copy of any program named sshd has it) and is read by journald from
//   /proc, so it goes missing when the sender has already exited.
// - Postfix and Dovecot log as their own users: their systemd unit (Debian
//   runs Postfix as postfix@-.service, others as postfix.service).
// - Apache's and nginx's filters read those servers' own log files, whose
//   lines are not syslog lines: they have none and cannot read the journal.
const SSHD_MATCH = ['sshd', 'sshd-session', 'sshd-auth'].map(p => `_UID=0 SYSLOG_IDENTIFIER=${p}`).join(' + ')

export const builtinJournalMatches: ReadonlyMap<string, string> = new Map([
  ['sshd', SSHD_MATCH],
  ['sshd-success', SSHD_MATCH],
  ['postfix', '_SYSTEMD_UNIT=postfix.service + _SYSTEMD_UNIT=postfix@-.service'],
  ['dovecot', '_SYSTEMD_UNIT=dovecot.service'],
])
