// The ledger's LevelDB layout. One process owns the directory (LevelDB's
// lock); everything else goes through that process.
//
//   log/<seq, 16 zero-padded digits>  LedgerChunk   append-only; key = the chunk's first entry
//   ids/<input id>                    <seq>         idempotency index
//   state/<jail>/<ip>                 AddressState  projection rows
//   meta/seq                          <seq>         last appended sequence
//   meta/format                       "2"
//
// Entries, their ids and the projection rows they change are written in one
// batch, synced (group commit: one fsync per batch, never per event). The
// entries of a batch are stored together, as LedgerChunks of consecutive
// entries (ledger-chunk.ts's CHUNK_MAX_*): one LevelDB value per chunk, not per entry, which
// cut replay's reading to a fraction (bench:ledger). Format 1 stored one
// LedgerEntry per value; such values stay readable (an entry's first byte is
// 0x08, a chunk's 0x0a), so a format-1 ledger is upgraded by marking it 2.
import { Buffer } from 'node:buffer'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Level } from 'level'
import { chunkRuns, encodeChunk, entrySeq, entrySeqs, forEachEntry } from '../../proto/ledger-chunk.js'
import { decodeState } from '../../proto/state-decoder.js'
import type { AddressState } from '../rules/types.js'

type Bytes = Uint8Array

const SEQ_DIGITS = 16
export const FORMAT_VERSION = '2'
/** Formats this version opens, upgrading them to FORMAT_VERSION. */
const UPGRADES_FROM = new Set(['1'])
/** A quiet ledger appends a few entries per batch. Its small chunks (each
 *  under both bounds) are merged, TAIL_MERGE of them at the end of the log
 *  into one, so that replay reads few values whatever the traffic was: each
 *  entry is rewritten at most once (32 * 31 entries and 32 * 8 KiB fit in a
 *  chunk). */
const SMALL_ENTRIES = 32
const SMALL_BYTES = 8 * 1024
const TAIL_MERGE = 32
/** LevelDB's memtable: 4 MiB by default; a larger one means fewer level-0
 *  files and compactions under a sustained ingest (measured with bench:ledger). */
const WRITE_BUFFER = 32 * 1024 * 1024
/** LevelDB's Snappy compression of its blocks is off: the log is written
 *  once but LevelDB's compactions rewrite it with the rows keyed around it,
 *  compressing and decompressing it each time, on the second core of a
 *  2-core host while the ledger thread runs on the first; every read
 *  decompresses it again. bench:ledger, 4 full runs each, alternating:
 *  replay right after the 1,000,000-event ingest 577,000-596,000 events/s
 *  against 460,000-536,000, start-up 1.6-1.9 s against 1.8-2.1 s, ingest
 *  100,000-111,000 against 88,000-109,000; the price is disk: 183 MB for
 *  those 1,000,000 events against 79 MB. Blocks written compressed (a
 *  ledger of an earlier version) stay readable: each block says how it is
 *  stored. */
const COMPRESSION = false
/** How many bytes one nextv() may return. classic-level's default (16 KiB)
 *  cuts a 2,000-row request to ~180 log entries, so a replay made ~9,000
 *  round trips to LevelDB's thread for 1,000,000 entries; with 1 MiB it
 *  makes 500 and reads them in a third less CPU (bench:ledger's log). */
const READ_CHUNK_BYTES = 1024 * 1024
/** `range` plus classic-level's own highWaterMarkBytes, which sublevels pass
 *  through (their types know only abstract-level's options). */
const readOptions = <O extends object>(range: O): O => ({ ...range, highWaterMarkBytes: READ_CHUNK_BYTES })

/** KeyBytes' buffers: the first of a batch FIRST_SLAB bytes, each next
 *  one twice the one before, up to SLAB (a quiet ledger's batch of a few
 *  entries needs a few hundred bytes, a busy one's ~100 KiB). */
const FIRST_SLAB = 256
const SLAB = 64 * 1024
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const seqKey = (seq: number): string => String(seq).padStart(SEQ_DIGITS, '0')
export const stateKey = (jail: string, ip: string): string => `${jail}/${ip}`
export function splitStateKey(key: string): { jail: string; ip: string } {
  const slash = key.indexOf('/')
  return { jail: key.slice(0, slash), ip: key.slice(slash + 1) }
}

/** The ledger directory is held by another process (usually the running service). */
export class LedgerLockedError extends Error {
  readonly code = 'BANLEDGER_LEDGER_LOCKED'
  override readonly name = 'LedgerLockedError'
}

/** There is no ledger where one was expected (and creating one was not asked for). */
export class LedgerMissingError extends Error {
  readonly code = 'BANLEDGER_LEDGER_MISSING'
  override readonly name = 'LedgerMissingError'
}

/** The stored ledger is not one this version can read. */
export class LedgerFormatError extends Error {
  readonly code = 'BANLEDGER_LEDGER_FORMAT'
  override readonly name = 'LedgerFormatError'
}

/** An input id as the ids index keys it (LedgerStore.idKeys): written once
 *  as bytes, for both the lookup of the id and the append of its entry. */
export type IdKey = Bytes & { readonly [idKeyBrand]: true }
declare const idKeyBrand: unique symbol

export type StateWrite = Readonly<{ jail: string; ip: string; state: Bytes | null }>
export type AppendBatch = Readonly<{
  entries: readonly { seq: number; bytes: Bytes; id: IdKey | null }[]
  states: readonly StateWrite[]
  lastSeq: number
}>

export class LedgerStore {
  readonly dir: string
  /** Keys as bytes: a batch's keys are written and looked up through it
   *  (see append); the sublevels read and write text keys. */
  readonly #db: Level<Bytes, Bytes>
  readonly #log
  readonly #ids
  readonly #state
  readonly #meta
  #closed = false
  /** The small chunks at the end of the log, oldest first, merged once
   *  there are TAIL_MERGE of them (unknown after open: starts empty). */
  #tail: { key: string; value: Bytes }[] = []

  private constructor(dir: string, db: Level<Bytes, Bytes>) {
    this.dir = dir
    this.#db = db
    const opts = { keyEncoding: 'utf8', valueEncoding: 'view' } as const
    this.#log = db.sublevel<string, Bytes>('log', opts)
    this.#ids = db.sublevel<string, Bytes>('ids', opts)
    this.#state = db.sublevel<string, Bytes>('state', opts)
    this.#meta = db.sublevel<string, Bytes>('meta', opts)
  }

  /** Opens the ledger in `dir`, creating it unless `create` is false (then
   *  rejects with LedgerMissingError). Rejects with LedgerLockedError when
   *  another process holds it. */
  static async open(dir: string, opts: Readonly<{ create?: boolean }> = {}): Promise<LedgerStore> {
    const create = opts.create ?? true
    if (!create && !existsSync(join(dir, 'CURRENT'))) {
      throw new LedgerMissingError(`there is no ledger in ${dir} (has the service run with this configuration?)`)
    }
    const db = new Level<Bytes, Bytes>(dir, { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: create, writeBufferSize: WRITE_BUFFER, compression: COMPRESSION })
    try {
      await db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new LedgerLockedError(`the ledger in ${dir} is held by another process (is the service running?)`, { cause: err })
      }
      throw err
    }
    const store = new LedgerStore(dir, db)
    const stored = await store.#meta.get('format')
    const format = stored === undefined ? undefined : decoder.decode(stored)
    if (format === undefined || UPGRADES_FROM.has(format)) {
      await store.#meta.put('format', encoder.encode(FORMAT_VERSION))
    } else if (format !== FORMAT_VERSION) {
      await db.close()
      throw new LedgerFormatError(`the ledger in ${dir} has format ${format}; this banledger reads formats ${[...UPGRADES_FROM, FORMAT_VERSION].join(', ')}`)
    }
    return store
  }

  async lastSeq(): Promise<number> {
    const v = await this.#meta.get('seq')
    return v === undefined ? 0 : Number(decoder.decode(v))
  }

  /** The sequences under which these ids were stored; undefined for new ones. */
  seqsOf(ids: readonly string[]): Promise<(number | undefined)[]> {
    return this.seqsOfKeys(this.idKeys(ids))
  }

  /** The keys of these ids in the ids index, for seqsOfKeys and append. */
  idKeys(ids: readonly string[]): IdKey[] {
    const prefix = this.#ids.prefix
    const bytes = new KeyBytes()
    return ids.map(id => bytes.text(prefix, id) as IdKey)
  }

  /** seqsOf for ids given as their keys. */
  async seqsOfKeys(keys: readonly IdKey[]): Promise<(number | undefined)[]> {
    if (keys.length === 0) return []
    const found = await this.#db.getMany([...keys])
    return found.map(v => (v === undefined ? undefined : Number(decoder.decode(v))))
  }

  /** Appends entries and their projection rows in one synced batch (one
   *  call at a time). Keys are written as bytes, each with its sublevel's
   *  prefix: the same bytes on disk as `{ sublevel }` options, at a third
   *  of the cost per put; and classic-level reads a text key into its C++
   *  copy in two passes, flattening the joined string (prefix + id) first. */
  async append(batch: AppendBatch): Promise<void> {
    const log = this.#log.prefix
    const state = this.#state.prefix
    const b = this.#db.batch()
    // Sequences as stored text (each id's, then meta/seq), state keys.
    const bytes = new KeyBytes()
    let tail = this.#tail
    for (const run of chunkRuns(batch.entries, e => e.bytes)) {
      for (const e of run) if (e.id !== null) b.put(e.id, bytes.decimal(e.seq))
      const chunk = { key: seqKey((run[0] as AppendBatch['entries'][number]).seq), value: encodeChunk(run.map(e => e.bytes)) }
      const [head, ...merged] = tail
      if (run.length >= SMALL_ENTRIES || chunk.value.length >= SMALL_BYTES) {
        b.put(bytes.text(log, chunk.key), chunk.value)
        tail = []
      } else if (head === undefined || tail.length + 1 < TAIL_MERGE) {
        b.put(bytes.text(log, chunk.key), chunk.value)
        tail = [...tail, chunk]
      } else {
        // Chunks concatenate into the chunk of all their entries: one value
        // under the first key (the lookup by sequence finds it), the others
        // deleted (this one was never put).
        b.put(bytes.text(log, head.key), Buffer.concat([...tail.map(c => c.value), chunk.value]))
        for (const c of merged) b.del(bytes.text(log, c.key))
        tail = []
      }
    }
    for (const s of batch.states) {
      const key = bytes.text(state, s.jail, '/', s.ip)
      if (s.state === null) b.del(key)
      else b.put(key, s.state)
    }
    b.put(bytes.text(this.#meta.prefix, 'seq'), bytes.decimal(batch.lastSeq))
    await b.write({ sync: true })
    this.#tail = tail
  }

  /** Every projection row, in key order, in chunks. */
  async *states(chunk = 1000): AsyncGenerator<[string, AddressState][]> {
    for await (const rows of this.rawStates(chunk)) {
      yield rows.map(([k, v]) => [k, decodeState(v)])
    }
  }

  rawStates(chunk = 1000): AsyncGenerator<[string, Bytes][]> {
    return batches(this.#state.iterator(readOptions({})), chunk)
  }

  /** The stored log values (each a LedgerChunk, or one LedgerEntry of
   *  format 1; read them with ledger-chunk.ts's forEachEntry) from the one that holds
   *  `fromSeq` on, in append order, in arrays of about `size`. */
  async *logValues(fromSeq = 1, size = 100): AsyncGenerator<Bytes[]> {
    for (;;) {
      const [holder] = await this.#log.keys({ lte: seqKey(fromSeq), reverse: true, limit: 1 }).all()
      const values = batches(this.#log.values(readOptions({ gte: holder ?? seqKey(fromSeq) })), size)
      const first = await values.next()
      if (first.done === true) return
      // A tail merge between the lookup and the read replaced the value
      // that held fromSeq by one under an earlier key: look again.
      if (holder !== undefined && entrySeqs(first.value[0] as Bytes).first !== Number(holder)) {
        await values.return(undefined)
        continue
      }
      yield first.value
      yield* values
      return
    }
  }

  /** The raw entries with seq >= `fromSeq`, in append order, in arrays of
   *  at most `size` (views into the stored values). */
  async *entries(fromSeq = 1, size = 1000): AsyncGenerator<Bytes[]> {
    let out: Bytes[] = []
    for await (const values of this.logValues(fromSeq)) {
      for (const value of values) {
        forEachEntry(value, (start, end) => {
          if (out.length > 0 || entrySeq(value, start, end) >= fromSeq) out.push(value.subarray(start, end))
        })
      }
      let at = 0
      for (; out.length - at >= size; at += size) yield out.slice(at, at + size)
      if (at > 0) out = out.slice(at)
    }
    if (out.length > 0) yield out
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#db.close()
  }
}

/** Keys (text as UTF-8) and numbers as decimal text (the ids index's
 *  values, meta/seq) for one batch, written into shared buffers and handed
 *  out as views of them: a Buffer each (String, then Buffer.from) cost
 *  twice as much, 0.16-0.22 us against 0.08-0.11. */
class KeyBytes {
  #buf = new Uint8Array(0)
  #pos = 0

  /** a + b + c + d as UTF-8 (each part encoded alone: a surrogate pair
   *  must not be split across parts). */
  text(a: string, b: string, c = '', d = ''): Bytes {
    this.#room(3 * (a.length + b.length + c.length + d.length))
    const start = this.#pos
    this.#pos = this.#write(d, this.#write(c, this.#write(b, this.#write(a, start))))
    return this.#buf.subarray(start, this.#pos)
  }

  /** `n` (a non-negative safe integer) as text. */
  decimal(n: number): Bytes {
    let digits = 1
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++
    this.#room(digits)
    const buf = this.#buf
    const start = this.#pos
    const end = start + digits
    for (let i = end - 1; i >= start; i--) {
      buf[i] = 48 + (n % 10)
      n = Math.floor(n / 10)
    }
    this.#pos = end
    return buf.subarray(start, end)
  }

  /** Room for `n` more bytes: a new buffer when this one has too little
   *  (the views handed out keep theirs). */
  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return
    this.#buf = new Uint8Array(Math.max(n, Math.min(SLAB, 2 * this.#buf.length), FIRST_SLAB))
    this.#pos = 0
  }

  /** Writes `s` as UTF-8 at `p` (room was made for it); returns its end. */
  #write(s: string, p: number): number {
    const buf = this.#buf
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c >= 128) return p + encoder.encodeInto(s.slice(i), buf.subarray(p)).written
      buf[p++] = c
    }
    return p
  }
}

type RowIterator<T> = {
  nextv(n: number): Promise<T[]>
  close(): Promise<void>
}

/** Rows of `it` in arrays of `size` (nextv is the fastest way to iterate);
 *  the next array is read while the caller works on this one. */
async function* batches<T>(it: RowIterator<T>, size: number): AsyncGenerator<T[]> {
  let next = it.nextv(size)
  try {
    while (true) {
      const rows = await next
      if (rows.length === 0) return
      next = it.nextv(size)
      yield rows
    }
  } finally {
    await next.catch(() => [])
    await it.close()
  }
}
