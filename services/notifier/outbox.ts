// The notifier's durable outbox, in its own LevelDB directory (the single-host
// service opens <data_dir>/notifier beside the ledger). One process owns it.
//
//   pending/<channel>/<seq, 16 digits>  OutboxEntry  waits for delivery; byte order = creation order
//   failed/<channel>/<seq>              OutboxEntry  refused for good; the last KEEP_FAILED per channel
//   ids/<entry id>                      where it is: "p<pending key>", "f<failed key>", "d" (done)
//   done/<seq>                          <entry id>   finished ids (sent or dropped), oldest first,
//                                                    so that the ids index stays bounded (KEEP_DONE)
//   meta/seq, meta/format
// <channel> is URI-encoded, so no channel's range holds another's keys.
//
// Contracts:
// - An entry is stored (synced) before anyone may try to deliver it, and
//   leaves `pending` only through markSent (the channel confirmed) or
//   markFailed (the channel refused it for good).
// - enqueue is idempotent by entry id ("<decision id>/<channel>"), also
//   after the entry was sent, for the last KEEP_DONE finished entries.
// - Nothing holds all entries in memory: due() reads at most `limit` rows;
//   memory holds a few counters per channel.
// - Every write goes through one queue, one batch at a time (synced, but
//   for pruning and process-crash-only attempt records); enqueues waiting
//   for it are grouped into the next batch.
import { Buffer } from 'node:buffer'
import { readFileSync } from 'node:fs'
import protobuf from 'protobufjs'
import { Level } from 'level'
import type { Decision, Millis } from '../../ledger/rules/types.js'
import { decisionFromWire, decisionToWire, decode, WireError } from '../../proto/wire.js'

type Bytes = Uint8Array

export type OutboxState = 'pending' | 'failed'

export type OutboxEntry = Readonly<{
  /** `<decision id>/<channel>` */
  id: string
  channel: string
  decision: Decision
  /** Delivery attempts started so far. */
  attempts: number
  nextAttemptAt: Millis
  state: OutboxState
  /** Redacted by the channel; '' when none. */
  lastError: string
  createdAt: Millis
  /** Key of the message this entry is in flight in; '' when none (see markAttempt). */
  attemptKey: string
  lastAttemptAt: Millis
}>

export type ChannelStats = Readonly<{ pending: number; failed: number; oldestPendingAge: Millis | null }>

export type OutboxLimits = Readonly<{ keepFailed?: number; keepDone?: number }>

/** The outbox directory is held by another process. */
export class OutboxLockedError extends Error {
  readonly code = 'BANLEDGER_OUTBOX_LOCKED'
  override readonly name = 'OutboxLockedError'
}

/** The stored outbox is not one this version can read. */
export class OutboxFormatError extends Error {
  readonly code = 'BANLEDGER_OUTBOX_FORMAT'
  override readonly name = 'OutboxFormatError'
}

const FORMAT_VERSION = '1'
const SEQ_DIGITS = 16
const KEEP_FAILED = 1000
const KEEP_DONE = 100_000

export const entryId = (decisionId: string, channel: string): string => `${decisionId}/${channel}`
const channelPrefix = (channel: string): string => `${encodeURIComponent(channel)}/`
const channelRange = (channel: string) => {
  const p = channelPrefix(channel)
  return { gte: p, lt: `${p.slice(0, -1)}0` } // '0' follows '/'
}
const channelOfKey = (key: string): string => decodeURIComponent(key.slice(0, key.indexOf('/')))
const seqKey = (seq: number): string => String(seq).padStart(SEQ_DIGITS, '0')
const utf8 = (s: string): Bytes => Buffer.from(s, 'utf8')
const text = (b: Bytes): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')

// wire.ts (imported above) has switched protobufjs' Long off: int64 are numbers.
const root = protobuf.parse(readFileSync(new URL('../../proto/banledger.proto', import.meta.url), 'utf8'), { keepCase: false }).root
const EntryType = root.lookupType('banledger.v1.OutboxEntry')
const STATE = { pending: 1, failed: 2 } as const

export function encodeOutboxEntry(e: OutboxEntry): Bytes {
  return EntryType.encode({
    id: e.id, channel: e.channel, decision: decisionToWire(e.decision), attempts: e.attempts,
    nextAttemptAt: e.nextAttemptAt, state: STATE[e.state], lastError: e.lastError, createdAt: e.createdAt,
    attemptKey: e.attemptKey, lastAttemptAt: e.lastAttemptAt,
  }).finish()
}

export function decodeOutboxEntry(bytes: Bytes): OutboxEntry {
  const m = decode(EntryType, bytes)
  const state = m['state'] === STATE.pending ? 'pending' : m['state'] === STATE.failed ? 'failed' : null
  const d = m['decision']
  if (state === null) throw new WireError(`OutboxEntry.state: unknown value ${String(m['state'])}`)
  if (d === null || typeof d !== 'object') throw new WireError('OutboxEntry.decision: missing')
  const n = (f: string): number => {
    const v = m[f]
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new WireError(`OutboxEntry.${f}: not a safe integer`)
    return v
  }
  return {
    id: String(m['id']), channel: String(m['channel']), decision: decisionFromWire(d as Record<string, unknown>),
    attempts: n('attempts'), nextAttemptAt: n('nextAttemptAt'), state, lastError: String(m['lastError']),
    createdAt: n('createdAt'), attemptKey: String(m['attemptKey']), lastAttemptAt: n('lastAttemptAt'),
  }
}

type PendingEnqueue = {
  decisions: readonly Decision[]
  channelsFor: (d: Decision) => readonly string[]
  now: Millis
  resolve: (stored: number) => void
  reject: (err: unknown) => void
}

export class Outbox {
  readonly dir: string
  readonly #db: Level<string, Bytes>
  readonly #pending
  readonly #failed
  readonly #ids
  readonly #done
  readonly #meta
  readonly #keepFailed: number
  readonly #keepDone: number
  #seq = 0
  #doneCount = 0
  readonly #pendingCount = new Map<string, number>()
  readonly #failedCount = new Map<string, number>()
  #chain: Promise<unknown> = Promise.resolve()
  #waiting: PendingEnqueue[] = []
  #closed: Promise<void> | null = null

  private constructor(dir: string, db: Level<string, Bytes>, limits: OutboxLimits) {
    this.dir = dir
    this.#db = db
    const opts = { valueEncoding: 'view' } as const
    this.#pending = db.sublevel<string, Bytes>('pending', opts)
    this.#failed = db.sublevel<string, Bytes>('failed', opts)
    this.#ids = db.sublevel<string, Bytes>('ids', opts)
    this.#done = db.sublevel<string, Bytes>('done', opts)
    this.#meta = db.sublevel<string, Bytes>('meta', opts)
    this.#keepFailed = limits.keepFailed ?? KEEP_FAILED
    this.#keepDone = limits.keepDone ?? KEEP_DONE
  }

  /** Opens (creating) the outbox in `dir`. Rejects with OutboxLockedError when
   *  another process holds it. Counts the stored keys (keys only, not kept). */
  static async open(dir: string, limits: OutboxLimits = {}): Promise<Outbox> {
    const db = new Level<string, Bytes>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' })
    try {
      await db.open()
    } catch (err) {
      if ((err as { cause?: { code?: string } }).cause?.code === 'LEVEL_LOCKED') {
        throw new OutboxLockedError(`the notifier outbox in ${dir} is held by another process (is the service running?)`, { cause: err })
      }
      throw err
    }
    const box = new Outbox(dir, db, limits)
    try {
      await box.#load()
    } catch (err) {
      await db.close()
      throw err
    }
    return box
  }

  async #load(): Promise<void> {
    const format = await this.#meta.get('format')
    if (format === undefined) await this.#meta.put('format', utf8(FORMAT_VERSION))
    else if (text(format) !== FORMAT_VERSION) {
      throw new OutboxFormatError(`the notifier outbox in ${this.dir} has format ${text(format)}; this banledger reads format ${FORMAT_VERSION}`)
    }
    const seq = await this.#meta.get('seq')
    this.#seq = seq === undefined ? 0 : Number(text(seq))
    await countKeys(this.#pending.keys(), k => bump(this.#pendingCount, channelOfKey(k), 1))
    await countKeys(this.#failed.keys(), k => bump(this.#failedCount, channelOfKey(k), 1))
    await countKeys(this.#done.keys(), () => { this.#doneCount++ })
  }

  /** Stores one pending entry per decision and channel in `channelsFor(d)`,
   *  skipping ids already known; resolves with how many were new, once they
   *  are synced. Calls made while a write runs share the next batch. */
  enqueue(decisions: readonly Decision[], channelsFor: (d: Decision) => readonly string[], now: Millis): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ decisions, channelsFor, now, resolve, reject })
      if (this.#waiting.length === 1) void this.#serial(() => this.#writeEnqueued())
    })
  }

  async #writeEnqueued(): Promise<void> {
    const group = this.#waiting
    this.#waiting = []
    try {
      const fresh = new Map<string, { channel: string; decision: Decision; now: Millis }>()
      for (const g of group) {
        for (const d of g.decisions) {
          for (const channel of g.channelsFor(d)) fresh.set(entryId(d.id, channel), { channel, decision: d, now: g.now })
        }
      }
      const known = fresh.size === 0 ? [] : await this.#ids.getMany([...fresh.keys()])
      const b = this.#db.batch()
      const counts = new Map<string, number>()
      let i = 0
      for (const [id, { channel, decision, now }] of fresh) {
        if (known[i++] !== undefined) continue
        const key = channelPrefix(channel) + seqKey(++this.#seq)
        b.put(this.#pending.prefix + key, encodeOutboxEntry({
          id, channel, decision, attempts: 0, nextAttemptAt: now, state: 'pending', lastError: '',
          createdAt: now, attemptKey: '', lastAttemptAt: 0,
        }))
        b.put(this.#ids.prefix + id, utf8(`p${key}`))
        bump(counts, channel, 1)
      }
      const stored = [...counts.values()].reduce((a, n) => a + n, 0)
      if (stored > 0) {
        b.put(this.#meta.prefix + 'seq', utf8(String(this.#seq)))
        await b.write({ sync: true })
        for (const [c, n] of counts) bump(this.#pendingCount, c, n)
      } else await b.close()
      for (const g of group) g.resolve(stored)
    } catch (err) {
      for (const g of group) g.reject(err)
    }
  }

  /** Up to `limit` pending entries of `channel` in creation order, due at
   *  `now`. Stops at the first entry not yet due: a message never overtakes
   *  one that waits for a retry (an unban never arrives before its ban). */
  async due(channel: string, now: Millis, limit: number): Promise<OutboxEntry[]> {
    const rows = await readRows(this.#pending.iterator({ ...channelRange(channel), limit }), limit)
    const out: OutboxEntry[] = []
    for (const [, v] of rows) {
      const e = decodeOutboxEntry(v)
      if (e.nextAttemptAt > now) break
      out.push(e)
    }
    return out
  }

  /** When the oldest pending entry of `channel` is due; null when none waits. */
  async nextAttemptAt(channel: string): Promise<Millis | null> {
    const [row] = await readRows(this.#pending.iterator({ ...channelRange(channel), limit: 1 }), 1)
    return row === undefined ? null : decodeOutboxEntry(row[1]).nextAttemptAt
  }

  /** Records that these pending entries are handed to their channel as one
   *  message under `key`, before it is sent: after a crash they are re-sent
   *  together under the same key. Counts the attempt. `sync` false: the
   *  record survives a crash of the process, not a power cut (the caller
   *  passes false only when the key follows from the entries anyway). */
  markAttempt(ids: readonly string[], key: string, at: Millis, sync = true): Promise<void> {
    return this.#update(ids, e => ({ ...e, attempts: e.attempts + 1, attemptKey: key, lastAttemptAt: at }), sync)
  }

  /** The channel said to try again: not before `at`. The entries stay pending. */
  reschedule(ids: readonly string[], at: Millis, error: string): Promise<void> {
    return this.#update(ids, e => ({ ...e, nextAttemptAt: at, lastError: error, attemptKey: '' }))
  }

  /** The channel confirmed: the entries leave the outbox (their ids are
   *  remembered, so enqueueing them again stores nothing). */
  markSent(ids: readonly string[]): Promise<void> {
    return this.#serial(async () => {
      const where = await this.#locate(ids)
      const b = this.#db.batch()
      const sent = new Map<string, number>()
      for (const [id, loc] of where) {
        if (loc[0] !== 'p') continue
        b.del(this.#pending.prefix + loc.slice(1))
        bump(sent, channelOfKey(loc.slice(1)), 1)
        this.#finish(b, id)
      }
      await b.write({ sync: true })
      for (const [channel, n] of sent) bump(this.#pendingCount, channel, -n)
      await this.#prune([])
    })
  }

  /** The channel refused these for good: they move to `failed`, where the last
   *  keepFailed of each channel are kept for `notify status`. */
  markFailed(ids: readonly string[], error: string): Promise<void> {
    return this.#serial(async () => {
      const where = [...await this.#locate(ids)].filter(([, loc]) => loc[0] === 'p')
      const rows = await this.#pending.getMany(where.map(([, loc]) => loc.slice(1)))
      const b = this.#db.batch()
      const moved: string[] = []
      where.forEach(([id, loc], i) => {
        const row = rows[i]
        if (row === undefined) return
        const e = decodeOutboxEntry(row)
        const key = channelPrefix(e.channel) + seqKey(++this.#seq)
        b.del(this.#pending.prefix + loc.slice(1))
        b.put(this.#failed.prefix + key, encodeOutboxEntry({ ...e, state: 'failed', lastError: error, attemptKey: '' }))
        b.put(this.#ids.prefix + id, utf8(`f${key}`))
        moved.push(e.channel)
      })
      b.put(this.#meta.prefix + 'seq', utf8(String(this.#seq)))
      await b.write({ sync: true })
      for (const channel of moved) {
        bump(this.#pendingCount, channel, -1)
        bump(this.#failedCount, channel, 1)
      }
      await this.#prune(new Set(moved))
    })
  }

  /** The most recent failed entries of `channel`, newest first. */
  async failed(channel: string, limit: number): Promise<OutboxEntry[]> {
    const rows = await readRows(this.#failed.iterator({ ...channelRange(channel), limit, reverse: true }), limit)
    return rows.map(([, v]) => decodeOutboxEntry(v))
  }

  /** Per channel with anything stored: pending and failed counts, and the age of the oldest pending entry. */
  async stats(now: Millis): Promise<Map<string, ChannelStats>> {
    const out = new Map<string, ChannelStats>()
    const channels = new Set([...this.#pendingCount.keys(), ...this.#failedCount.keys()])
    for (const channel of [...channels].sort()) {
      const pending = this.#pendingCount.get(channel) ?? 0
      const failed = this.#failedCount.get(channel) ?? 0
      if (pending === 0 && failed === 0) continue
      const [head] = pending === 0 ? [] : await readRows(this.#pending.iterator({ ...channelRange(channel), limit: 1 }), 1)
      out.set(channel, { pending, failed, oldestPendingAge: head === undefined ? null : now - decodeOutboxEntry(head[1]).createdAt })
    }
    return out
  }

  /** Waits for the write in progress, then closes. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#chain.then(() => this.#db.close())
    return this.#closed
  }

  /** Rewrites the pending entries among `ids` with `change`, in one batch. */
  #update(ids: readonly string[], change: (e: OutboxEntry) => OutboxEntry, sync = true): Promise<void> {
    return this.#serial(async () => {
      const keys = [...await this.#locate(ids)].filter(([, loc]) => loc[0] === 'p').map(([, loc]) => loc.slice(1))
      const rows = await this.#pending.getMany(keys)
      const b = this.#db.batch()
      keys.forEach((k, i) => {
        const row = rows[i]
        if (row !== undefined) b.put(this.#pending.prefix + k, encodeOutboxEntry(change(decodeOutboxEntry(row))))
      })
      await b.write({ sync })
    })
  }

  /** id -> location ("p<key>", "f<key>", "d"), for the ids that are known. */
  async #locate(ids: readonly string[]): Promise<Map<string, string>> {
    const unique = [...new Set(ids)]
    const found = unique.length === 0 ? [] : await this.#ids.getMany(unique)
    const out = new Map<string, string>()
    unique.forEach((id, i) => {
      const v = found[i]
      if (v !== undefined) out.set(id, text(v))
    })
    return out
  }

  #finish(b: ReturnType<Level<string, Bytes>['batch']>, id: string): void {
    b.put(this.#ids.prefix + id, utf8('d'))
    b.put(this.#done.prefix + seqKey(++this.#seq), utf8(id))
    b.put(this.#meta.prefix + 'seq', utf8(String(this.#seq)))
    this.#doneCount++
  }

  /** Drops the oldest failed entries of `channels` beyond keepFailed, then
   *  forgets the oldest finished ids beyond keepDone (in runs of 1,000 or
   *  more, not one by one). Not synced: a prune lost to a power cut only
   *  leaves rows that the next one removes. */
  async #prune(channels: Iterable<string>): Promise<void> {
    const b = this.#db.batch()
    for (const channel of channels) {
      const excess = (this.#failedCount.get(channel) ?? 0) - this.#keepFailed
      if (excess <= 0) continue
      const oldest = await readRows(this.#failed.iterator({ ...channelRange(channel), limit: excess }), excess)
      for (const [k, v] of oldest) {
        b.del(this.#failed.prefix + k)
        this.#finish(b, decodeOutboxEntry(v).id)
      }
      bump(this.#failedCount, channel, -oldest.length)
    }
    if (b.length > 0) await b.write()
    else await b.close()
    const excess = this.#doneCount - this.#keepDone
    if (excess < Math.min(1000, this.#keepDone)) return
    const oldest = await readRows(this.#done.iterator({ limit: excess }), excess)
    const d = this.#db.batch()
    for (const [k, v] of oldest) {
      d.del(this.#done.prefix + k)
      d.del(this.#ids.prefix + text(v))
    }
    await d.write()
    this.#doneCount -= oldest.length
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn)
    this.#chain = run.catch(() => {})
    return run
  }
}

function bump(m: Map<string, number>, k: string, by: number): void {
  m.set(k, (m.get(k) ?? 0) + by)
}

type Iter<T> = { nextv(n: number): Promise<T[]>; close(): Promise<void> }

/** At most `limit` rows of `it`, then closes it. */
async function readRows<T>(it: Iter<T>, limit: number): Promise<T[]> {
  try {
    const out: T[] = []
    while (out.length < limit) {
      const rows = await it.nextv(Math.min(1000, limit - out.length))
      if (rows.length === 0) break
      out.push(...rows)
    }
    return out
  } finally {
    await it.close()
  }
}

async function countKeys(it: Iter<string>, each: (k: string) => void): Promise<void> {
  try {
    for (let keys = await it.nextv(1000); keys.length > 0; keys = await it.nextv(1000)) keys.forEach(each)
  } finally {
    await it.close()
  }
}
