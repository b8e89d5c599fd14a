// The ledger's LevelDB layout. One process owns the directory (LevelDB's
// lock); everything else goes through that process.
//
//   log/<seq, 16 zero-padded digits>  LedgerEntry   append-only; byte order = append order
//   ids/<input id>                    <seq>         idempotency index
//   state/<jail>/<ip>                 AddressState  projection rows
//   meta/seq                          <seq>         last appended sequence
//
// An entry, its id and the projection rows it changes are written in one
// batch, synced (group commit: one fsync per batch, never per event).
import { Buffer } from 'node:buffer'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Level } from 'level'
import { decodeState } from '../../proto/wire.js'
import type { AddressState } from '../rules/types.js'

type Bytes = Uint8Array

const SEQ_DIGITS = 16
export const FORMAT_VERSION = '1'
/** LevelDB's memtable: 4 MiB by default; a larger one means fewer level-0
 *  files and compactions under a sustained ingest (measured with bench:ledger). */
const WRITE_BUFFER = 32 * 1024 * 1024
/** How many bytes one nextv() may return. classic-level's default (16 KiB)
 *  cuts a 2,000-row request to ~180 log entries, so a replay made ~9,000
 *  round trips to LevelDB's thread for 1,000,000 entries; with 1 MiB it
 *  makes 500 and reads them in a third less CPU (bench:ledger's log). */
const READ_CHUNK_BYTES = 1024 * 1024
/** `range` plus classic-level's own highWaterMarkBytes, which sublevels pass
 *  through (their types know only abstract-level's options). */
const readOptions = <O extends object>(range: O): O => ({ ...range, highWaterMarkBytes: READ_CHUNK_BYTES })

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

export type StateWrite = Readonly<{ key: string; state: Bytes | null }>
export type AppendBatch = Readonly<{
  entries: readonly { seq: number; bytes: Bytes; id: string | null }[]
  states: readonly StateWrite[]
  lastSeq: number
}>

export class LedgerStore {
  readonly dir: string
  readonly #db: Level<string, Bytes>
  readonly #log
  readonly #ids
  readonly #state
  readonly #meta
  #closed = false

  private constructor(dir: string, db: Level<string, Bytes>) {
    this.dir = dir
    this.#db = db
    const opts = { valueEncoding: 'view' } as const
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
    const db = new Level<string, Bytes>(dir, { keyEncoding: 'utf8', valueEncoding: 'view', createIfMissing: create, writeBufferSize: WRITE_BUFFER })
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
    const format = await store.#meta.get('format')
    if (format === undefined) {
      await store.#meta.put('format', new TextEncoder().encode(FORMAT_VERSION))
    } else if (new TextDecoder().decode(format) !== FORMAT_VERSION) {
      await db.close()
      throw new LedgerFormatError(`the ledger in ${dir} has format ${new TextDecoder().decode(format)}; this banledger reads format ${FORMAT_VERSION}`)
    }
    return store
  }

  async lastSeq(): Promise<number> {
    const v = await this.#meta.get('seq')
    return v === undefined ? 0 : Number(new TextDecoder().decode(v))
  }

  /** The sequences under which these ids were stored; undefined for new ones. */
  async seqsOf(ids: readonly string[]): Promise<(number | undefined)[]> {
    if (ids.length === 0) return []
    const found = await this.#ids.getMany([...ids])
    return found.map(v => (v === undefined ? undefined : Number(new TextDecoder().decode(v))))
  }

  /** Appends entries and their projection rows in one synced batch. Keys
   *  carry their sublevel's prefix themselves: the same bytes on disk as
   *  `{ sublevel }` options, at a third of the cost per put. */
  async append(batch: AppendBatch): Promise<void> {
    const log = this.#log.prefix
    const ids = this.#ids.prefix
    const state = this.#state.prefix
    const b = this.#db.batch()
    for (const e of batch.entries) {
      b.put(log + seqKey(e.seq), e.bytes)
      if (e.id !== null) b.put(ids + e.id, latin1(String(e.seq)))
    }
    for (const s of batch.states) {
      if (s.state === null) b.del(state + s.key)
      else b.put(state + s.key, s.state)
    }
    b.put(this.#meta.prefix + 'seq', latin1(String(batch.lastSeq)))
    await b.write({ sync: true })
  }

  /** Every projection row, in key order, in chunks. */
  async *states(chunk = 1000): AsyncGenerator<[string, AddressState][]> {
    for await (const rows of this.rawStates(chunk)) {
      yield rows.map(([k, v]) => [k, decodeState(v)])
    }
  }

  rawStates(chunk = 1000): AsyncGenerator<[string, Bytes][]> {
    return chunks(this.#state.iterator(readOptions({})), chunk)
  }

  /** Raw log entries with seq >= `fromSeq`, in append order, in chunks. */
  log(fromSeq = 1, chunk = 1000): AsyncGenerator<[string, Bytes][]> {
    return chunks(this.#log.iterator(readOptions({ gte: seqKey(fromSeq) })), chunk)
  }

  /** The same entries without their keys (replay needs only the values). */
  logValues(fromSeq = 1, chunk = 1000): AsyncGenerator<Bytes[]> {
    return chunks(this.#log.values(readOptions({ gte: seqKey(fromSeq) })), chunk)
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#db.close()
  }
}

const latin1 = (text: string): Bytes => Buffer.from(text, 'latin1')

type RowIterator<T> = {
  nextv(n: number): Promise<T[]>
  close(): Promise<void>
}

/** Rows of `it` in chunks of `size` (nextv is the fastest way to iterate);
 *  the next chunk is read while the caller works on this one. */
async function* chunks<T>(it: RowIterator<T>, size: number): AsyncGenerator<T[]> {
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
