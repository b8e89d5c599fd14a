// banledger events [--since SEQ|TIME] [--type TYPE]... [--follow] [--json]
//
// The ledger's domain events and the decisions they make, one line each, in
// ledger order. On the embedded bus it reads the local ledger (through the
// running service when that holds it); on NATS, the ledger stream
// <PREFIX>_LEDGER, whose messages each hold consecutive entries (a
// LedgerChunk; one LedgerEntry in a stream written before chunks), read
// by ../ledger-stream.ts, which also serves `banledger replay --from-bus`.
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { decisionsOf } from '../../../ledger/rules/decisions.js'
import type { Decision, DomainEvent, LedgerEntry } from '../../../ledger/rules/types.js'
import { LedgerLockedError } from '../../../ledger/store/ledger-store.js'
import { decodeEntryEvents } from '../../../proto/wire.js'
import type { NatsBusConfig } from '../../../services/bus/bus-config.js'
import { ControlError, tryConnect } from '../../../services/control/control-client.js'
import { controlSocket, ledgerDir } from '../../../services/run/data-dir.js'
import type { Config } from '../../config/types.js'
import { CONFIG_HELP, configOption, parse, readConfig, type CliIO, type Command } from '../command.js'
import { openLogReader, type LogReader } from '../ledger-access.js'
import type { LedgerStream, StreamEntry, StreamState } from '../ledger-stream.js'
import { iso, parseTimeArg } from '../time-arg.js'
import { UsageError } from '../usage-error.js'

/** How often --follow looks for new entries on the embedded bus, or for
 *  the ledger stream on NATS before a ledger has made it. */
const POLL = 500
/** Entries per read of the embedded ledger. */
const PAGE = 1000

const EVENT_TYPES = [
  'FailureRecorded', 'CounterCleared', 'GraceOpened', 'BanIssued', 'BanLifted', 'BanExpired', 'StateForgotten', 'NoEffect',
] as const satisfies readonly DomainEvent['type'][]
const DECISION_TYPES = ['ban', 'unban'] as const satisfies readonly Decision['type'][]

export const eventsCommand: Command = {
  help: `Usage: banledger events [--since SEQ|TIME] [--type TYPE]... [--follow] [--json] [--config FILE]

Prints the ledger's domain events, in ledger order, one line each; after
each event that makes a decision (BanIssued: ban; BanLifted, BanExpired:
unban), that decision, as firewalls and notifiers get it. With the embedded
bus it reads the local ledger (through the running service when it holds
it); with bus: { nats: ... } it reads the stream <PREFIX>_LEDGER
(BANLEDGER_LEDGER), from any host whose NATS user may (the operator user of
ops/nats/users.conf).

Options:
  --since SEQ|TIME  start at ledger sequence SEQ, or at the first entry whose
                    time is at or after TIME (ISO-8601 or @EPOCH_SECONDS),
                    found by binary search: entry times follow ledger order,
                    except log lines that reached the ledger late, which may
                    fall on either side of TIME. Default: the first entry;
                    with --follow, the next one committed
  --type TYPE       only these types (case-insensitive; repeat it or give a
                    comma-separated list): the domain events FailureRecorded,
                    CounterCleared, GraceOpened, BanIssued, BanLifted,
                    BanExpired, StateForgotten, NoEffect; the decisions ban,
                    unban; or the groups events and decisions. Default: all
  -f, --follow      go on printing entries as they are committed, until
                    SIGINT or SIGTERM. Embedded bus: polls the ledger every
                    ${POLL} ms, through the service when it runs; otherwise it
                    opens the ledger only when its files changed, for the
                    time of one read, so the service and other commands can
                    still take it. NATS: an ordered consumer follows the
                    stream; before any ledger has made it, events waits for
                    it (saying so on stderr) and then prints it from its start
  --json            one JSON object per line (below)
${CONFIG_HELP}

Lines: ID TIME TYPE JAIL IP DETAILS. ID is SEQ.INDEX, the ledger sequence and
the event's index in its entry; a decision has the ID of the event it comes
from (the Decision.id firewalls and notifiers see).

JSON: every object has seq (number), id ("SEQ.INDEX"), at (ISO-8601 UTC, the
event's time; for BanExpired, when the ban ended), type, jail and ip; then,
by type:
  FailureRecorded  outcome (counted|absorbed|while-banned|ignored), host,
                   windowStart (counted failures at or before it fell out)
  GraceOpened      until
  BanIssued        until, reason (maxretry|operator|import), repeat (bans
                   before this one), failures
  BanLifted        reason (success|operator)
  NoEffect         why
  CounterCleared, BanExpired, StateForgotten: nothing more
  ban              until, reason (maxretry|operator|import), failures
  unban            reason (expired|success|operator)
For instance:
  {"seq":12,"id":"12.1","at":"2026-11-02T10:00:03.000Z","type":"BanIssued","jail":"ssh","ip":"192.0.2.7","until":"2026-11-07T10:00:03.000Z","reason":"maxretry","repeat":0,"failures":3}
  {"seq":12,"id":"12.1","at":"2026-11-02T10:00:03.000Z","type":"ban","jail":"ssh","ip":"192.0.2.7","until":"2026-11-07T10:00:03.000Z","reason":"maxretry","failures":3}

Examples:
  banledger events --since 2026-11-02T00:00:00Z --type ban,unban
  banledger events --follow --json --type decisions
  banledger events --since 1200 --type BanIssued --type BanLifted

Exit status: 0 (also when --follow is stopped by SIGINT or SIGTERM), 1 when
the ledger cannot be read, 2 on a usage error, 78 on a configuration error.`,
  async run(args, io) {
    const { values, positionals } = parse('events', args, {
      ...configOption, since: { type: 'string' }, type: { type: 'string', multiple: true },
      follow: { type: 'boolean', short: 'f' }, json: { type: 'boolean' },
    })
    if (values.help === true) { io.out(this.help); return 0 }
    if (positionals.length > 0) throw new UsageError(`events: unexpected argument ${JSON.stringify(positionals[0])}`)
    const since = typeof values.since === 'string' ? parseSince(values.since) : null
    const wanted = parseTypes(values.type)
    const follow = values.follow === true
    const json = values.json === true
    const config = await readConfig(values)

    const abort = new AbortController()
    const emit = (entry: LedgerEntry): void => {
      for (const r of recordsOf(entry)) {
        if (abort.signal.aborted) return
        if (wanted === null || wanted.has(r.type.toLowerCase())) io.out(json ? JSON.stringify(r) : textOf(r))
      }
    }
    const stop = (): void => abort.abort()
    // The reader went away (`| head`): the output ends there, quietly.
    const closed = (err: NodeJS.ErrnoException): void => {
      if (err.code !== 'EPIPE') throw err
      stop()
    }
    process.stdout.on('error', closed)
    if (follow) {
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    }
    try {
      const read = { since, follow, emit, signal: abort.signal }
      if (config.bus.kind === 'nats') await fromStream(config, config.bus.nats, io, read)
      else await fromLedger(config, read)
    } finally {
      process.stdout.off('error', closed)
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    }
    return 0
  },
}

// ---------------------------------------------------------------- arguments

/** Where output starts: a ledger sequence, a time, or (null) the default. */
type Since = Readonly<{ seq: number }> | Readonly<{ at: number }> | null

function parseSince(text: string): Since {
  if (/^\d{1,15}$/.test(text)) return { seq: Math.max(Number(text), 1) }
  return { at: parseTimeArg('--since', text) }
}

/** The lower-cased type names asked for; null: every type. */
function parseTypes(given: readonly string[] | undefined): Set<string> | null {
  if (given === undefined) return null
  const known = new Map<string, readonly string[]>([
    ...[...EVENT_TYPES, ...DECISION_TYPES].map(t => [t.toLowerCase(), [t.toLowerCase()]] as const),
    ['events', EVENT_TYPES.map(t => t.toLowerCase())],
    ['decisions', [...DECISION_TYPES]],
  ])
  const out = new Set<string>()
  for (const name of given.flatMap(g => g.split(',')).map(n => n.trim()).filter(n => n !== '')) {
    const types = known.get(name.toLowerCase())
    if (types === undefined) {
      throw new UsageError(`events: --type ${JSON.stringify(name)}: expected ${[...EVENT_TYPES, ...DECISION_TYPES].join(', ')}, events or decisions`)
    }
    for (const t of types) out.add(t)
  }
  if (out.size === 0) throw new UsageError('events: --type needs a type (see banledger events --help)')
  return out
}

// ---------------------------------------------------------------- records

/** One output line: common keys first, then those of its type. */
type Row = Readonly<{ seq: number; id: string; at: string; type: string; jail: string; ip: string } & Record<string, string | number>>

function eventRow(seq: number, index: number, e: DomainEvent): Row {
  const base = { seq, id: `${seq}.${index}`, at: iso(e.at), type: e.type, jail: e.jail, ip: e.ip }
  switch (e.type) {
    case 'FailureRecorded': return { ...base, outcome: e.outcome, host: e.host, windowStart: iso(e.windowStart) }
    case 'GraceOpened': return { ...base, until: iso(e.until) }
    case 'BanIssued': return { ...base, until: iso(e.until), reason: e.reason, repeat: e.repeat, failures: e.failures }
    case 'BanLifted': return { ...base, reason: e.reason }
    case 'NoEffect': return { ...base, why: e.why }
    case 'CounterCleared':
    case 'BanExpired':
    case 'StateForgotten':
      return base
    default: {
      const never: never = e
      throw new TypeError(`unknown event ${JSON.stringify(never)}`)
    }
  }
}

function decisionRow(d: Decision): Row {
  const base = { seq: d.seq, id: d.id, at: iso(d.at), type: d.type, jail: d.jail, ip: d.ip }
  return d.type === 'ban' ? { ...base, until: iso(d.until), reason: d.reason, failures: d.failures } : { ...base, reason: d.reason }
}

/** An entry's events, each followed by the decision it makes, if any. */
export function recordsOf(entry: LedgerEntry): Row[] {
  const decisions = new Map(decisionsOf(entry).map(d => [d.id, d]))
  const out: Row[] = []
  entry.events.forEach((e, i) => {
    out.push(eventRow(entry.seq, i, e))
    const d = decisions.get(`${entry.seq}.${i}`)
    if (d !== undefined) out.push(decisionRow(d))
  })
  return out
}

const COMMON = new Set(['seq', 'id', 'at', 'type', 'jail', 'ip'])

function textOf(r: Row): string {
  const details = Object.entries(r).filter(([k]) => !COMMON.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && /[\s"=]|^$/.test(v) ? JSON.stringify(v) : v}`)
  return `${r.id.padEnd(9)} ${r.at} ${r.type.padEnd(15)} ${r.jail.padEnd(12)} ${r.ip.padEnd(39)} ${details.join(' ')}`.trimEnd()
}

// ---------------------------------------------------------------- reading

type Read = Readonly<{ since: Since; follow: boolean; emit: (entry: LedgerEntry) => void; signal: AbortSignal }>

/** The first sequence to print, the log holding `first`..`last`; `atOf`
 *  gives the time of the entry at a sequence. */
async function startSeq(read: Read, first: number, last: number, atOf: (seq: number) => Promise<number>): Promise<number> {
  const { since } = read
  if (since === null) return read.follow ? last + 1 : first
  if ('seq' in since) return since.seq
  // The first sequence in [first, last] whose entry is at or after the time
  // (last + 1 when none is).
  let lo = first
  let hi = last + 1
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    if (await atOf(mid) >= since.at) hi = mid
    else lo = mid + 1
  }
  return lo
}

/** The embedded ledger, through the service or directly. */
async function fromLedger(config: Config, read: Read): Promise<void> {
  const dir = ledgerDir(config)
  let reader = await openLogReader(config)
  let next: number
  /** The ledger's files as of the last direct read; null after one through the service. */
  let seen: string | null
  try {
    const at = async (seq: number): Promise<number> => (await reader.entries(seq, 1))[0]?.at ?? Infinity
    const needsLast = read.since === null ? read.follow : 'at' in read.since
    next = await startSeq(read, 1, needsLast ? await lastSeqOf(reader) : 0, at)
    next = await drain(reader, next, read)
    seen = reader.via === 'direct' ? await ledgerFiles(dir) : null
  } finally {
    await reader.close()
  }
  while (read.follow && !read.signal.aborted) {
    await sleep(POLL, undefined, { signal: read.signal }).catch(() => {})
    if (read.signal.aborted) break
    // Nothing wrote to the ledger since the last direct read: nothing new,
    // and no reason to take the ledger (a service may want to start).
    if (seen !== null && !(await serviceAnswers(config)) && await ledgerFiles(dir) === seen) continue
    try {
      reader = await openLogReader(config)
    } catch (err) {
      if (err instanceof LedgerLockedError) continue // a command writing, or the service starting: next time
      throw err
    }
    try {
      next = await drain(reader, next, read)
      seen = reader.via === 'direct' ? await ledgerFiles(dir) : null
    } catch (err) {
      if (!(err instanceof ControlError && err.code === 'BANLEDGER_CONTROL_GONE')) throw err
      seen = null // the service stopped: directly next time
    } finally {
      await reader.close()
    }
  }
}

/** Prints entries from `next` on until there are no more; the next sequence to read. */
async function drain(reader: LogReader, next: number, read: Read): Promise<number> {
  while (!read.signal.aborted) {
    const page = await reader.entries(next, PAGE)
    if (page.length === 0) break
    for (const e of page) read.emit(e)
    next = (page[page.length - 1] as LedgerEntry).seq + 1
  }
  return next
}

/** The last sequence of the log, in O(log n) reads of one entry. */
async function lastSeqOf(reader: LogReader): Promise<number> {
  const has = async (seq: number): Promise<boolean> => (await reader.entries(seq, 1)).length > 0
  let hi = 1
  while (await has(hi)) hi *= 2
  let lo = Math.floor(hi / 2) // held (or 0); hi is not
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (await has(mid)) lo = mid
    else hi = mid
  }
  return lo
}

async function serviceAnswers(config: Config): Promise<boolean> {
  const socket = await tryConnect(controlSocket(config))
  socket?.destroy()
  return socket !== null
}

/** The names, sizes and times of the ledger's LevelDB files: any write
 *  changes them. Its info log and lock file are left out (they change when
 *  the ledger is only opened). */
async function ledgerFiles(dir: string): Promise<string> {
  const names = (await readdir(dir)).filter(n => n !== 'LOG' && n !== 'LOG.old' && n !== 'LOCK').sort()
  const files = await Promise.all(names.map(async n => {
    const s = await stat(join(dir, n)).catch(() => null)
    return s === null ? '' : `${n}:${s.size}:${s.mtimeMs}`
  }))
  return files.join(' ')
}

/** The ledger stream on NATS. */
async function fromStream(config: Config, nats: NatsBusConfig, io: CliIO, read: Read): Promise<void> {
  const { LedgerStreamError, openLedgerStream } = await import('../ledger-stream.js')
  const stream = await openLedgerStream(nats, config.host, io, { follow: read.follow, purpose: 'events' })
  try {
    // Following a fleet whose ledger has not published yet: wait for it.
    // Everything it then holds came after the command started.
    let waited = false
    while (read.follow && !read.signal.aborted && !(await stream.exists())) {
      if (!waited) io.err(`events: waiting for the stream ${stream.name}: no ledger has published on this bus yet`)
      waited = true
      await sleep(POLL, undefined, { signal: read.signal }).catch(() => {})
    }
    if (read.signal.aborted) return
    const state = await stream.info()
    const start = waited && read.since === null ? { message: Math.max(state.first, 1), skip: null } : await streamStart(stream, read, state)
    let prev = 0
    let first = true
    for await (const { seq, data } of stream.read(start.message, read.follow ? null : state.last, read.signal)) {
      for (const e of stream.entries(seq, data)) {
        if (e.seq <= prev) throw new LedgerStreamError(`message ${seq} of ${stream.name} holds ledger entry ${e.seq} after entry ${prev}: out of order`)
        prev = e.seq
        if (start.skip !== null && start.skip(e, first)) continue
        read.emit(stream.decode(seq, e))
      }
      first = false
    }
  } finally {
    await stream.close()
  }
}

/** Where reading the stream starts: the stream sequence of the first message
 *  to read, and which of its entries (and later ones) to leave out. */
type StreamStart = Readonly<{ message: number; skip: ((e: StreamEntry, firstMessage: boolean) => boolean) | null }>

/** The first message to read for `read.since`, by binary search over the
 *  stream's messages (each probe reads one). */
async function streamStart(stream: LedgerStream, read: Read, { first, last }: StreamState): Promise<StreamStart> {
  const { since } = read
  first = Math.max(first, 1)
  if (since === null) return { message: read.follow ? last + 1 : first, skip: null }
  if ('seq' in since) {
    // The last message whose first entry is at or before since.seq. A
    // message holds one entry or more, so message k's first entry is >= k:
    // the one holding since.seq is at or before stream sequence since.seq.
    const wanted = since.seq
    let lo = first
    let hi = Math.min(last, wanted)
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2)
      const m = await stream.probe(mid)
      const firstSeq = m === null ? Infinity : stream.entries(m.seq, m.data)[0]?.seq ?? Infinity
      if (firstSeq <= wanted) lo = mid
      else hi = mid - 1
    }
    return { message: lo, skip: e => e.seq < wanted }
  }
  // The first message whose last entry is at or after the time; in it, the
  // first such entry. Entry times follow ledger order (but for late lines).
  const at = since.at
  const timeOf = (e: StreamEntry): number => decodeEntryEvents(e.bytes).at
  let lo = first
  let hi = last + 1
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    const m = await stream.probe(mid)
    const lastEntry = m === null ? undefined : stream.entries(m.seq, m.data).at(-1)
    if (lastEntry === undefined || timeOf(lastEntry) >= at) hi = mid
    else lo = mid + 1
  }
  if (lo > last) return { message: lo, skip: null } // every entry is before the time: all that comes next
  let started = false
  return {
    message: lo,
    skip: (e, firstMessage) => {
      if (started || !firstMessage || timeOf(e) >= at) started = true
      return !started
    },
  }
}
