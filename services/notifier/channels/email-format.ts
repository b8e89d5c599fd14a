// What a notification mail says (R14), in two formats:
//  - `plain`: every field of each decision, one block per decision;
//  - `denyhosts`: DenyHosts' report, to the byte, so that the mail filters
//    people wrote for DenyHosts keep working. From DenyHosts' report.py and
//    the mails it sends:
//        From: DenyHosts <sender>
//        Subject: DenyHosts Report
//
//        Added the following hosts to /etc/hosts.deny:
//
//        203.0.113.7 (unknown)
//        198.51.100.9 (unknown)
//
//        ----------------------------------------------------------------------
//    One line per new address ("<ip> (<reverse name>)", and banledger does
//    no reverse lookup, so "unknown"), a blank line, 70 dashes. DenyHosts
//    only reports additions: unbans are left out of this format.
import type { Notice } from '../channel.js'
import { clean, countDecisions, isoTime } from './notice-text.js'

export type EmailFormat = 'plain' | 'denyhosts'

export type ComposedEmail = Readonly<{
  /** Display name of the From header; the address is the channel's `from`. */
  fromName: string
  subject: string
  text: string
}>

export const DENYHOSTS_SUBJECT = 'DenyHosts Report'
export const DENYHOSTS_FROM_NAME = 'DenyHosts'
export const DENYHOSTS_RULE = '-'.repeat(70)

/** The body of DenyHosts' report for the bans among `notices` (each address
 *  once, in order); null when there is none. */
export function denyHostsReport(notices: readonly Notice[], target: string): string | null {
  const addresses = [...new Set(notices.filter((n) => n.decision.type === 'ban').map((n) => n.decision.ip))]
  if (addresses.length === 0) return null
  const lines = addresses.map((ip) => `${ip} (unknown)\n`).join('')
  return `Added the following hosts to ${clean(target, 4096)}:\n\n${lines}\n${DENYHOSTS_RULE}\n`
}

/** `[banledger] ban 203.0.113.7 in ssh`, or `[banledger] 3 bans` for a digest. */
export function plainSubject(notices: readonly Notice[]): string {
  const only = notices.length === 1 ? notices[0] : undefined
  if (only !== undefined) return `[banledger] ${only.decision.type} ${clean(only.decision.ip, 64)} in ${clean(only.decision.jail, 32)}`
  return `[banledger] ${countDecisions(notices)}`
}

export function plainBody(notices: readonly Notice[]): string {
  const host = clean(notices[0]?.host ?? '', 253)
  const only = notices.length === 1 ? notices[0] : undefined
  const head = only === undefined
    ? `banledger on ${host}: ${countDecisions(notices)}`
    : `banledger on ${host}: ${only.decision.type} ${clean(only.decision.ip, 64)} in jail ${clean(only.decision.jail, 32)}`
  const blocks = notices.map(({ decision: d, host: from }) => [
    `jail:        ${clean(d.jail, 32)}`,
    `address:     ${clean(d.ip, 64)}`,
    `type:        ${d.type}`,
    `reason:      ${d.reason}`,
    `at:          ${isoTime(d.at) ?? '-'}`,
    `until:       ${isoTime(d.until) ?? '-'}`,
    `failures:    ${d.failures}`,
    `host:        ${clean(from, 253)}`,
    `ledger seq:  ${d.seq}`,
    `decision id: ${clean(d.id, 128)}`,
  ].join('\n'))
  return `${head}\n\n${blocks.join('\n\n')}\n`
}

/** The mail for `notices`; null when the format has nothing to say about
 *  them (denyhosts and only unbans). */
export function composeEmail(notices: readonly Notice[], format: EmailFormat, target: string): ComposedEmail | null {
  if (format === 'denyhosts') {
    const text = denyHostsReport(notices, target)
    return text === null ? null : { fromName: DENYHOSTS_FROM_NAME, subject: DENYHOSTS_SUBJECT, text }
  }
  return { fromName: 'banledger', subject: plainSubject(notices), text: plainBody(notices) }
}
