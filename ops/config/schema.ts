// The shape of banledger.yaml, section by section, as zod schemas. Objects
// are strict (an unknown key is a problem, never ignored). Each field turns
// its YAML value into the typed value (durations in ms, ports as numbers,
// canonical addresses) and reports what it expected when it cannot. Defaults,
// cross-field checks and path resolution are load-config.ts's job.
//
// Issue messages say what was expected; the loader appends ", got <value>"
// unless the issue carries `params.shown` (the message already shows it).
import { z } from 'zod'
import { parseRange } from '../../ledger/rules/addresses.js'
import {
  boolean, decimal, duration, field, HOST_NAME, HOST_NAME_FORMS, integer, JAIL_NAME, JAIL_NAME_FORMS, section, show, text,
  type Segment,
} from './schema-kit.js'
import { notifySchema } from '../../services/notifier/notifier-config.js'
import { busSchema } from '../../services/bus/bus-config.js'
import { normalise, parseJournalMatch, type JournalMatch } from '../../services/watcher/journal-match.js'

export { HOST_NAME, HOST_NAME_FORMS, JAIL_NAME, JAIL_NAME_FORMS, show }

export const FILTER_NAME = /^[A-Za-z0-9._/-]{1,200}$/

/** Service names accepted in `ports`. */
export const PORT_NAMES: Readonly<Record<string, number>> = Object.freeze({
  ssh: 22,
  smtp: 25,
  http: 80,
  pop3: 110,
  imap: 143,
  https: 443,
  submission: 587,
  imaps: 993,
  pop3s: 995,
})

const OPTION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/

/** fail2ban filter options (`mode: aggressive`, `logtype: journal`): names
 *  and values are plain text, at most 200 characters, no newline. */
function filterOptions() {
  return field<Readonly<Record<string, string>>>((value, report) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      report('expected a mapping like { mode: aggressive }')
      return undefined
    }
    const out: Record<string, string> = Object.create(null) as Record<string, string>
    for (const [k, v] of Object.entries(value)) {
      if (!OPTION_NAME.test(k)) report(`expected an option name (letters, digits, _)`, { path: [k], input: k })
      else if ((typeof v !== 'string' && typeof v !== 'number') || String(v).length > 200 || /[\n\r]/.test(String(v))) {
        report('expected a short text value', { path: [k], input: v })
      } else out[k] = String(v)
    }
    return out
  })
}

const FILTER_FORMS = 'a filter name (letters, digits, and . _ / -, at most 200 characters)'

/** A path as written; load-config resolves relative ones. */
function pathProblem(value: unknown): string | null {
  if (typeof value !== 'string' || value.trim() === '') return 'expected a file path'
  if (value.includes('\0')) return 'a path cannot contain a NUL character'
  if (value.startsWith('~')) return '~ is not expanded here; write the full path'
  if (value.length > 4096) return 'expected a path of at most 4096 characters'
  return null
}

const pathText = () =>
  field<string>((value, report) => {
    const problem = pathProblem(value)
    if (problem !== null) {
      report(problem)
      return undefined
    }
    return value as string
  })

const pathList = () =>
  field<string[]>((value, report) => {
    const items = typeof value === 'string' ? [value] : value
    if (!Array.isArray(items) || items.length === 0) {
      report('expected a file path or a list of at least one')
      return undefined
    }
    const paths: string[] = []
    items.forEach((item: unknown, index) => {
      const problem = pathProblem(item)
      if (problem === null) paths.push(item as string)
      else report(problem, typeof value === 'string' ? {} : { path: [index], input: item })
    })
    return paths
  })

/** `a b c` or `a,b` in one string, or a YAML list whose items may be such strings. */
function tokens(value: unknown, accept: (item: unknown) => boolean): { token: unknown; path: Segment[] }[] | null {
  const split = (s: string) => s.split(/[\s,]+/).filter((token) => token !== '')
  if (typeof value === 'string') return split(value).map((token) => ({ token, path: [] }))
  if (!Array.isArray(value)) return accept(value) ? [{ token: value, path: [] }] : null
  return value.flatMap((item: unknown, index) =>
    typeof item === 'string' && item.trim() !== '' ? split(item).map((token) => ({ token, path: [index] })) : [{ token: item, path: [index] }],
  )
}

const addressList = () =>
  field<string[]>((value, report) => {
    const items = tokens(value, () => false)
    if (items === null) {
      report('expected a list of addresses or CIDR ranges, or a string like "127.0.0.1/8 ::1"')
      return undefined
    }
    const entries: string[] = []
    for (const { token, path } of items) {
      const range = typeof token === 'string' && !hasPaddedOctet(token) ? parseRange(token) : null
      if (range === null) {
        report(`not an address or CIDR range: ${show(token)}`, { path, input: token, shown: true })
        continue
      }
      const [addr, bits] = range
      const entry = (token as string).includes('/') ? `${addr.toString()}/${bits}` : addr.toString()
      if (!entries.includes(entry)) entries.push(entry)
    }
    return entries
  })

/** `010.0.0.1/8`: ipaddr.js reads such an octet as octal (8), a person as
 *  decimal (10); refused as ambiguous. */
function hasPaddedOctet(entry: string): boolean {
  const host = entry.split('/')[0] ?? ''
  const v4 = host.slice(host.lastIndexOf(':') + 1)
  return v4.includes('.') && /(^|\.)0\d/.test(v4)
}

/** Where a jail reads: `auto` (the files in logpath) or `systemd` (the
 *  journal), fail2ban's names. fail2ban's other backends and its
 *  `systemd[journalpath=...]` options are not supported. */
const backend = () =>
  field<'auto' | 'systemd'>((value, report) => {
    if (value === 'auto' || value === 'systemd') return value
    if (typeof value === 'string' && value.startsWith('systemd[')) {
      report('options of fail2ban\'s systemd backend (journalpath, files, namespace...) are not supported; expected systemd')
    } else report('expected auto (the files in logpath) or systemd (the systemd journal)')
    return undefined
  })

const JOURNALMATCH_FORMS = 'journalctl matches like "_SYSTEMD_UNIT=ssh.service + _COMM=sshd", or a list of such alternatives'

/** fail2ban's `journalmatch` text, or a list of texts (alternatives). */
const journalMatch = () =>
  field<JournalMatch>((value, report) => {
    const items: unknown = typeof value === 'string' ? [value] : value
    if (!Array.isArray(items) || items.length === 0) {
      report(`expected ${JOURNALMATCH_FORMS}`)
      return undefined
    }
    const groups: (readonly string[])[] = []
    items.forEach((item: unknown, index) => {
      const m = typeof item === 'string' ? parseJournalMatch(item) : `expected ${JOURNALMATCH_FORMS}`
      if (typeof m !== 'string') groups.push(...m)
      else report(m, Array.isArray(value) ? { path: [index], input: item } : {})
    })
    return normalise(groups)
  })

const PORT_FORMS = `a number from 1 to 65535 or one of ${Object.keys(PORT_NAMES).join(', ')}`

const portList = () =>
  field<number[]>((value, report) => {
    const items = tokens(value, (item) => typeof item === 'number')
    if (items === null) {
      report('expected a port, a list of ports, or a string like "22,443"')
      return undefined
    }
    const ports: number[] = []
    for (const { token, path } of items) {
      const port = portNumber(token)
      if (typeof port === 'string') {
        report(`${port}: ${show(token)} (expected ${PORT_FORMS})`, { path, input: token, shown: true })
        continue
      }
      if (!ports.includes(port)) ports.push(port)
    }
    return ports
  })

function portNumber(token: unknown): number | string {
  const n = typeof token === 'string' && /^\d{1,6}$/.test(token) ? Number(token) : token
  if (typeof n === 'number') return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : 'not a port'
  if (typeof n !== 'string') return 'not a port'
  if (/^\d+[:-]\d+$/.test(n)) return 'port ranges are not supported'
  return PORT_NAMES[n.toLowerCase()] ?? 'not a port'
}

const incrementSchema = section(
  {
    factor: decimal(1, 100),
    max: duration(),
  },
  'a mapping like { factor: 2, max: 30d }, or null for none',
)

const policyShape = {
  maxretry: integer(1, 1000).optional(),
  findtime: duration().optional(),
  bantime: duration().optional(),
  /** 0 turns the grace window off. */
  grace: duration({ allowZero: true }).optional(),
  grace_max_failures: integer(0, 1_000_000).optional(),
  success_lifts_ban: boolean().optional(),
  bantime_increment: incrementSchema.nullable().optional(),
}

/** `defaults:` (null, as when every line under it is commented out, is empty). */
export const policySchema = section(policyShape, 'a mapping of jail settings (maxretry, findtime, bantime...)').nullable()

export const jailSchema = section(
  {
    enabled: boolean().optional(),
    filter: text(FILTER_NAME, FILTER_FORMS),
    success_filter: field<string | null>((value, report) => {
      if (value === null || typeof value === 'string' && FILTER_NAME.test(value)) return value
      report(`expected ${FILTER_FORMS}, or null for none`)
      return undefined
    }).optional(),
    filter_options: filterOptions().optional(),
    /** Required with backend auto, refused with systemd (load-config). */
    logpath: pathList().optional(),
    backend: backend().optional(),
    journalmatch: journalMatch().optional(),
    ports: portList().optional(),
    protocol: z.enum(['tcp', 'udp'], { error: 'expected tcp or udp' }).optional(),
    ignoreip: addressList().optional(),
    ...policyShape,
  },
  'a mapping of jail settings (filter, logpath...)',
)

export const watcherSchema = section(
  {
    max_line_bytes: integer(256, 1_048_576).optional(),
    poll_interval: duration({ min: 10, max: 60_000 }).optional(),
  },
  'a mapping like { max_line_bytes: 8192, poll_interval: 250ms }',
).nullable()

export const firewallSchema = section(
  {
    backend: z.enum(['auto', 'nftables', 'ipset', 'iptables', 'dry-run'], {
      error: 'expected one of auto, nftables, ipset, iptables, dry-run',
    }).optional(),
    check_interval: duration({ min: 1000, max: 86_400_000 }).optional(),
    maxelem: integer(16, 16_777_216).optional(),
    ipv6_escalate: integer(2, 65_536).nullable().optional(),
  },
  'a mapping like { backend: auto, check_interval: 60s }',
).nullable()

/** The top level. `defaults` and `jails` are checked section by section by
 *  the loader, so one bad jail does not hide the problems of another. */
export const topSchema = section(
  {
    data_dir: pathText().optional(),
    filter_dirs: pathList().optional(),
    host: text(HOST_NAME, HOST_NAME_FORMS).optional(),
    ignoreip: addressList().optional(),
    ignore_self: boolean().optional(),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'], {
      error: 'expected one of fatal, error, warn, info, debug, trace',
    }).optional(),
    watcher: watcherSchema.optional(),
    firewall: firewallSchema.optional(),
    notify: notifySchema.optional(),
    bus: busSchema.optional(),
    max_clock_skew: duration({ min: 1000, max: 86_400_000 }).optional(),
    defaults: z.unknown().optional(),
    jails: z.unknown().optional(),
  },
  'a mapping (key: value lines) with at least a jails: section',
)

export type TopSection = z.output<typeof topSchema>
export type PolicySection = NonNullable<z.output<typeof policySchema>>
export type JailSection = z.output<typeof jailSchema>

/** Known keys per kind of mapping, for "did you mean" hints. */
export const KNOWN_KEYS = Object.freeze({
  top: Object.freeze(Object.keys(topSchema.shape)),
  watcher: Object.freeze(Object.keys(watcherSchema.unwrap().shape)),
  firewall: Object.freeze(Object.keys(firewallSchema.unwrap().shape)),
  policy: Object.freeze(Object.keys(policyShape)),
  jail: Object.freeze(Object.keys(jailSchema.shape)),
  increment: Object.freeze(Object.keys(incrementSchema.shape)),
})
