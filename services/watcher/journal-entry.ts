// One journal entry, as `journalctl -o json --all` prints it, turned into
// the one line of text every filter reads:
//   <RFC 3339 time> <_HOSTNAME> <SYSLOG_IDENTIFIER>[<pid>]: <MESSAGE>
// - built-in filters read it as a syslog line (they parse RFC 3339 times);
// - fail2ban filters in journal mode (logtype=journal, what fail2ban uses
//   with backend = systemd) read what fail2ban's FilterSystemd gives them:
//   the same line without the time, dated by the entry; journalModeFilter
//   takes the time off for them.
// The parts follow FilterSystemd.formatJournalEntry: the identifier is
// SYSLOG_IDENTIFIER, else _COMM; the pid SYSLOG_PID, else _PID; a kernel
// line gets `[<monotonic seconds>]`; a MESSAGE given several times is
// joined with spaces; newlines in it become `\n` (two characters). The time
// is _SOURCE_REALTIME_TIMESTAMP (when the sender sent it: journald sets it,
// clients cannot), else __REALTIME_TIMESTAMP (when journald received it).
//
// Everything in an entry is untrusted text except the fields journald sets
// itself (those starting with `_`), and even those only as far as the
// sender could not choose them. Parsing never throws.
import { createHash } from 'node:crypto'
import type { FilterMatch, LineFilter } from './filters/filter.js'
import { parseSyslogTime } from './filters/syslog-time.js'
import { utf8Boundary } from './utf8.js'

/** The fields asked of journalctl (`--output-fields`); it adds __CURSOR,
 *  __REALTIME_TIMESTAMP, __MONOTONIC_TIMESTAMP and _BOOT_ID itself. */
export const JOURNAL_FIELDS: readonly string[] = Object.freeze([
  'MESSAGE', '_HOSTNAME', 'SYSLOG_IDENTIFIER', 'SYSLOG_PID', '_PID', '_COMM',
  '_SOURCE_REALTIME_TIMESTAMP', '_SOURCE_MONOTONIC_TIMESTAMP',
])

export type JournalRecord = Readonly<{
  /** journalctl's cursor for this entry: where to resume after it. */
  cursor: string
  /** A stable id of the entry (see entryIdOf). */
  entryId: string
  /** The line filters read, or null when the entry has no MESSAGE or no
   *  valid time (it is skipped, its cursor still counts). */
  text: string | null
  /** Present when MESSAGE was longer than the limit and was cut. */
  truncated?: true
}>

/** journalctl prints cursors as `s=..;i=..;b=..;m=..;t=..;x=..`; any
 *  printable ASCII without spaces is accepted, at most 512 characters. */
export const CURSOR = /^[\x21-\x7e]{1,512}$/

const MAX_HOST = 255
const MAX_IDENT = 128
/** Dates a Date can hold, in ms. */
const MAX_MS = 8.64e15

/** The record of one JSON line, or why it is skipped (no cursor: not an
 *  entry). MESSAGE is cut to `maxMessageBytes` UTF-8 bytes. */
export function recordOfJson(json: string, maxMessageBytes: number): JournalRecord | string {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch {
    return 'not JSON'
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'not a JSON object'
  const e = raw as Record<string, unknown>
  const cursor = e['__CURSOR']
  if (typeof cursor !== 'string' || !CURSOR.test(cursor)) return 'no valid __CURSOR'
  const entryId = entryIdOf(cursor)
  const at = micros(e['_SOURCE_REALTIME_TIMESTAMP']) ?? micros(e['__REALTIME_TIMESTAMP'])
  const message = fieldBytes(e['MESSAGE'], ' ')
  if (at === null || message === null) return { cursor, entryId, text: null }
  const cut = message.length > maxMessageBytes
  const text = message.subarray(0, cut ? utf8Boundary(message, maxMessageBytes) : message.length).toString('utf8').replaceAll('\n', '\\n')
  const ms = Math.floor(at / 1000)
  const host = token(fieldText(e['_HOSTNAME']), MAX_HOST) ?? '-'
  let head = host
  const ident = token(fieldText(e['SYSLOG_IDENTIFIER']), MAX_IDENT) ?? token(fieldText(e['_COMM']), MAX_IDENT)
  if (ident !== null) {
    const pid = pidOf(e['SYSLOG_PID']) ?? pidOf(e['_PID'])
    head += ` ${ident}${pid === null ? '' : `[${pid}]`}:`
    if (ident === 'kernel' && pid === null) {
      const mono = micros(e['_SOURCE_MONOTONIC_TIMESTAMP']) ?? micros(e['__MONOTONIC_TIMESTAMP'])
      if (mono !== null) head += ` [${(mono / 1e6).toFixed(6).padStart(12)}]`
    }
  }
  return {
    cursor, entryId, text: `${new Date(ms).toISOString()} ${head} ${text}`,
    ...(cut ? { truncated: true as const } : {}),
  }
}

/** The part of a cursor that names the entry itself, hashed: boot id,
 *  monotonic and realtime timestamps and the hash of its fields (b, m, t,
 *  x), not the sequence numbers (s, i), which a copy of the entry into
 *  another journal file (journald's flush from /run to /var) may change.
 *  A cursor without those parts is hashed whole. */
export function entryIdOf(cursor: string): string {
  const parts = new Map(cursor.split(';').map(p => [p.slice(0, p.indexOf('=')), p] as const))
  const own = ['b', 'm', 't', 'x'].map(k => parts.get(k))
  const key = own.every(p => p !== undefined) ? own.join(';') : cursor
  return createHash('sha256').update(key).digest('hex').slice(0, 20)
}

/** A timestamp field (decimal microseconds) within what a Date holds. */
function micros(v: unknown): number | null {
  if (typeof v !== 'string' || !/^\d{1,19}$/.test(v)) return null
  const n = Number(v)
  return Number.isSafeInteger(n) && n > 0 && n / 1000 < MAX_MS ? n : null
}

/** A field's bytes. journalctl writes a value as a string, as an array of
 *  byte values when it is not valid UTF-8 or holds control characters, as
 *  null when it is too long (not with --all), and a field given several
 *  times as an array of those: joined with `join`, or the first one. */
function fieldBytes(v: unknown, join: string | null): Buffer | null {
  if (typeof v === 'string') return Buffer.from(v, 'utf8')
  if (!Array.isArray(v)) return null
  if (v.every(b => Number.isInteger(b) && (b as number) >= 0 && (b as number) <= 255)) return Buffer.from(v as number[])
  const values = v.map(x => (Array.isArray(x) || typeof x === 'string' ? fieldBytes(x, null) : null)).filter(b => b !== null)
  if (values.length === 0) return null
  return join === null ? (values[0] ?? null) : Buffer.concat(values.flatMap((b, i) => (i === 0 ? [b] : [Buffer.from(join), b])))
}

/** A field as text (invalid UTF-8 becomes U+FFFD). */
function fieldText(v: unknown): string | null {
  return fieldBytes(v, null)?.toString('utf8') ?? null
}

/** One token of the line: whitespace and control characters become `_`,
 *  cut to `max`; null when empty. */
function token(s: string | null, max: number): string | null {
  if (s === null || s === '') return null
  // eslint-disable-next-line no-control-regex -- control characters are replaced
  return s.slice(0, max).replace(/[\s\u0000-\u001f\u007f]/g, '_')
}

function pidOf(v: unknown): string | null {
  const s = fieldText(v)
  return s !== null && /^\d{1,10}$/.test(s) ? s : null
}

/** A fail2ban filter compiled for logtype=journal, over the line above: its
 *  leading time is taken off and becomes the line's time, so the filter
 *  sees `host ident[pid]: message` as under fail2ban's systemd backend. A
 *  line without a leading time is no match. (Also reads syslog files with
 *  their own timestamps, e.g. for `banledger simulate`.) */
export function journalModeFilter(filter: LineFilter): LineFilter {
  return {
    name: filter.name,
    match(line: string, now: number): FilterMatch | null {
      const t = parseSyslogTime(line, now)
      return t === null ? null : filter.match(t.rest, t.at)
    },
  }
}
