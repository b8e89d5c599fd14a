// Reads the bans DenyHosts left in /etc/hosts.deny (R11). Pure: the caller
// reads the file and turns entries into ImportedBan inputs; whether a ban is
// still due is the ledger rules' decision, not this parser's.
//
// DenyHosts writes each ban as two lines:
//   # DenyHosts: Sun Oct 19 08:19:25 2014 | sshd: 222.186.56.49
//   sshd: 222.186.56.49
// The comment's date is time.asctime() in the writer's local time zone,
// read here in the process's local time zone.
import { canonicalAddress } from '../../ledger/rules/addresses.js'

export type HostsDenyEntry = {
  /** 1-based line of the rule. */
  line: number
  /** Canonical address (see canonicalAddress). */
  ip: string
  /** When DenyHosts banned it, in ms; null when no DenyHosts comment gave a date. */
  bannedAt: number | null
}

export type HostsDenySkip = {
  line: number
  /** The line, at most 120 characters. */
  text: string
  why: string
}

export type HostsDenyResult = { entries: HostsDenyEntry[]; skipped: HostsDenySkip[] }

const MAX_TEXT = 120
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const DENYHOSTS_PREFIX = /^#\s*DenyHosts:/
const ASCTIME = /^([A-Za-z]{3}) +([A-Za-z]{3}) +(\d{1,2}) +(\d{2}):(\d{2}):(\d{2}) +(\d{4})$/

/** Never throws. Each address appears once in `entries`, at its first rule;
 *  a date later than `now` (a clock or time zone mix-up) becomes `now`. */
export function parseHostsDeny(text: string, opts: { now: number }): HostsDenyResult {
  const entries: HostsDenyEntry[] = []
  const skipped: HostsDenySkip[] = []
  const seen = new Set<string>()
  // Rules take the date of the latest DenyHosts comment for their address
  // that precedes them (DenyHosts writes it on the line before).
  const dates = new Map<string, number>()

  for (const { line, text: content } of logicalLines(text)) {
    const trimmed = content.trim()
    if (trimmed === '') continue
    const skip = (why: string) => skipped.push({ line, text: truncate(content), why })

    if (trimmed.startsWith('#')) {
      const prefix = DENYHOSTS_PREFIX.exec(trimmed)
      const bar = trimmed.indexOf('|')
      if (prefix === null || bar === -1) continue // an ordinary comment
      const dateText = trimmed.slice(prefix[0].length, bar).trim()
      const ruleText = trimmed.slice(bar + 1).trim()
      const rule = parseRule(ruleText)
      // A comment is never a ban by itself; its rule line is judged on its own.
      if (!rule.ok) continue
      const at = parseAsctime(dateText)
      if (at === null) {
        skip(`DenyHosts date not understood: ${JSON.stringify(truncate(dateText))}; the rule for ${rule.ip} gets no date`)
        continue
      }
      dates.set(rule.ip, Math.min(at, opts.now))
      continue
    }

    const rule = parseRule(trimmed)
    if (!rule.ok) {
      skip(rule.why)
      continue
    }
    if (seen.has(rule.ip)) continue
    seen.add(rule.ip)
    entries.push({ line, ip: rule.ip, bannedAt: dates.get(rule.ip) ?? null })
  }
  return { entries, skipped }
}

type Rule = { ok: true; ip: string } | { ok: false; why: string }

/** `daemon_list : client [ : option ]` (hosts_access(5)); only a rule for
 *  sshd or ALL naming exactly one address, with no option, is a ban. */
function parseRule(text: string): Rule {
  const colon = text.indexOf(':')
  if (colon === -1) return { ok: false, why: 'not a hosts.deny rule (expected "daemon: address")' }
  const daemons = text.slice(0, colon).trim().split(/[\s,]+/).filter((d) => d !== '')
  if (daemons.length === 0) return { ok: false, why: 'not a hosts.deny rule (no daemon before ":")' }
  if (daemons.includes('EXCEPT')) return { ok: false, why: 'daemon list with EXCEPT: not imported' }
  if (!daemons.includes('sshd') && !daemons.includes('ALL')) {
    return { ok: false, why: `rule for another daemon than sshd or ALL: ${JSON.stringify(truncate(daemons.join(', ')))}` }
  }

  const rest = text.slice(colon + 1).trim()
  let client: string
  let option: string | null = null // what follows a second ':', if any
  if (rest.startsWith('[')) {
    // [2001:db8::7], the hosts_access form of an IPv6 address
    const close = rest.indexOf(']')
    const after = close === -1 ? '' : rest.slice(close + 1).trim()
    if (close === -1 || after !== '' && !after.startsWith(':')) return notSingle(rest)
    client = rest.slice(1, close)
    if (after !== '') option = after.slice(1).trim()
  } else if (!/\s/.test(rest) && (rest.match(/:/g)?.length ?? 0) >= 2) {
    client = rest // an IPv6 address written without brackets
  } else {
    const next = rest.indexOf(':')
    client = (next === -1 ? rest : rest.slice(0, next)).trim()
    if (next !== -1) option = rest.slice(next + 1).trim()
  }
  if (option !== null) {
    // An option such as `allow` or `spawn` changes what the rule does.
    return { ok: false, why: `rule with an option or command (${JSON.stringify(truncate(option))}): not imported` }
  }
  const ip = hasPaddedOctet(client) ? null : canonicalAddress(client)
  return ip === null ? notSingle(client) : { ok: true, ip }
}

/** `010.0.0.1`: tcpd and ipaddr.js read it as octal (8.0.0.1), a person as
 *  decimal; DenyHosts never writes it. Refused as ambiguous. */
function hasPaddedOctet(address: string): boolean {
  const v4 = address.slice(address.lastIndexOf(':') + 1)
  return v4.includes('.') && /(^|\.)0\d/.test(v4)
}

function notSingle(client: string): Rule {
  return { ok: false, why: `not a single address: ${JSON.stringify(truncate(client))}` }
}

/** time.asctime(): `Sun Oct 19 08:19:25 2014`, `Sun Oct  5 08:19:25 2014`;
 *  local time. Null unless every field is in range. */
function parseAsctime(text: string): number | null {
  const match = ASCTIME.exec(text)
  if (match === null) return null
  const [, weekday = '', monthName = '', day = '', hour = '', minute = '', second = '', year = ''] = match
  const month = MONTHS.indexOf(monthName)
  if (month === -1 || !WEEKDAYS.includes(weekday)) return null
  const [y, d, h, mi, s] = [year, day, hour, minute, second].map(Number) as [number, number, number, number, number]
  if (y < 1970 || h > 23 || mi > 59 || s > 59) return null
  const date = new Date(y, month, d, h, mi, s)
  // Date rolls Feb 30 over to March: refuse instead.
  if (date.getFullYear() !== y || date.getMonth() !== month || date.getDate() !== d) return null
  return date.getTime()
}

/** Physical lines joined where one ends with a backslash (hosts_access(5));
 *  a joined line keeps the number of its first physical line. */
function logicalLines(text: string): { line: number; text: string }[] {
  const physical = text.split(/\r?\n/)
  const lines: { line: number; text: string }[] = []
  let pending: { line: number; text: string } | null = null
  physical.forEach((raw, index) => {
    const current = pending ?? { line: index + 1, text: '' }
    if (raw.endsWith('\\')) {
      current.text += `${raw.slice(0, -1)} `
      pending = current
      return
    }
    current.text += raw
    lines.push(current)
    pending = null
  })
  if (pending !== null) lines.push(pending)
  return lines
}

function truncate(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text
}
