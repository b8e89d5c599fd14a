// Durable read positions of followed log files, keyed by file identity
// (see file-follower.ts for what an identity is), and of journal sources,
// keyed `journal:<matches>` with journalctl's cursor (journal-follower.ts).
// One small JSON file holds every source of a host; one OffsetStore
// instance owns it.
//
// Contract: an offset is `set` only after the lines before it were
// acknowledged downstream, so losing the last unflushed `set`s (crash) only
// makes the watcher re-read lines, whose events are deduplicated by id.
// That is why `set` is a cheap in-memory update and writes are batched.
import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import { CodedError } from '../coded-error.js'

/** Stable error codes of this module (never reused). */
export type OffsetStoreErrorCode =
  /** The offsets file is not valid JSON or not in the expected shape; it is treated as empty. */
  | 'BANLEDGER_OFFSETS_CORRUPT'
  /** The offsets file could not be read (other than "does not exist"); treated as empty. */
  | 'BANLEDGER_OFFSETS_READ_FAILED'
  /** A batched write failed; the entries stay dirty and are written at the next flush. */
  | 'BANLEDGER_OFFSETS_WRITE_FAILED'

export class OffsetStoreError extends CodedError<OffsetStoreErrorCode> {
  override readonly name = 'OffsetStoreError'
}

export type OffsetEntry = Readonly<{
  /** The followed path this identity was last seen at. */
  path: string
  /** Byte offset just after the last acknowledged line. */
  offset: number
  /** Milliseconds since the epoch of the last `set`. */
  updatedAt: number
  /** A journal source's position: the cursor of the last acknowledged
   *  entry (then `path` is the key and `offset` 0). */
  cursor?: string
}>

export type OffsetStoreOptions = Readonly<{
  /** Writes are batched: at most one write per this many ms. Default 1000. */
  flushInterval?: number
  /** Entries not updated for this long are dropped on write. Default 7 days. */
  retention?: number
  /** For logging: a corrupt or unreadable file, a failed background write. */
  onError?: (err: Error) => void
  /** Clock, for tests. Default Date.now. */
  now?: () => number
}>

const DAY = 24 * 60 * 60 * 1000
const FORMAT_VERSION = 1

export class OffsetStore {
  readonly #file: string
  readonly #flushInterval: number
  readonly #retention: number
  readonly #onError: (err: Error) => void
  readonly #now: () => number
  readonly #entries = new Map<string, OffsetEntry>()
  #loading: Promise<void> | undefined
  #dirty = false
  #timer: NodeJS.Timeout | undefined
  /** The write in progress, if any; writes never overlap. */
  #writing: Promise<void> = Promise.resolve()
  #closed = false
  #closing: Promise<void> | undefined

  /** @param file e.g. `<data_dir>/watcher/offsets.json`; its folder is created on first write. */
  constructor(file: string, opts: OffsetStoreOptions = {}) {
    this.#file = file
    this.#flushInterval = opts.flushInterval ?? 1000
    this.#retention = opts.retention ?? 7 * DAY
    this.#onError = opts.onError ?? (() => {})
    this.#now = opts.now ?? Date.now
    if (!(this.#flushInterval >= 0) || !(this.#retention > 0)) {
      throw new TypeError('OffsetStore: flushInterval must be >= 0 and retention > 0')
    }
  }

  /** Reads the file once (later calls share that read). Resolves, never
   *  rejects: a missing file is empty; a corrupt or unreadable one is
   *  reported through onError and treated as empty. */
  load(): Promise<void> {
    this.#loading ??= this.#read()
    return this.#loading
  }

  async get(fileId: string): Promise<number | undefined> {
    await this.load()
    return this.#entries.get(fileId)?.offset
  }

  /** Every known identity last seen at `path` (a followed file and its
   *  rotated predecessors). */
  async entriesFor(path: string): Promise<ReadonlyMap<string, OffsetEntry>> {
    await this.load()
    const found = new Map<string, OffsetEntry>()
    for (const [id, entry] of this.#entries) if (entry.path === path) found.set(id, entry)
    return found
  }

  /** Records an acknowledged position. Cheap: memory only; written by the
   *  next batched flush. */
  set(fileId: string, path: string, offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new TypeError(`OffsetStore: bad offset ${offset}`)
    this.#put(fileId, { path, offset, updatedAt: this.#now() })
  }

  /** The cursor stored for journal source `key`, if any. */
  async getCursor(key: string): Promise<string | undefined> {
    await this.load()
    return this.#entries.get(key)?.cursor
  }

  /** Records the cursor of journal source `key`'s last acknowledged entry
   *  (same contract and batching as `set`). */
  setCursor(key: string, cursor: string): void {
    if (typeof cursor !== 'string' || cursor === '') throw new TypeError('OffsetStore: bad cursor')
    this.#put(key, { path: key, offset: 0, updatedAt: this.#now(), cursor })
  }

  /** Forgets `id` (a cursor journalctl refused, say). */
  delete(id: string): void {
    if (this.#closed) throw new TypeError('OffsetStore: delete() after close()')
    if (this.#entries.delete(id)) this.#schedule()
  }

  #put(id: string, entry: OffsetEntry): void {
    if (this.#closed) throw new TypeError('OffsetStore: set() after close()')
    this.#entries.set(id, entry)
    this.#schedule()
  }

  #schedule(): void {
    this.#dirty = true
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined
      this.flush().catch((err: unknown) => this.#onError(asError(err)))
    }, this.#flushInterval)
  }

  /** Writes pending entries now (atomically, durably). Rejects if the write
   *  fails; the entries then stay pending. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    await this.load()
    const run = this.#writing.then(() => this.#writeIfDirty())
    this.#writing = run.catch(() => {})
    await run
  }

  /** Flushes and stops the timer. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true
      await this.flush()
    })()
    return this.#closing
  }

  async #read(): Promise<void> {
    let text: string
    try {
      text = await readFile(this.#file, 'utf8')
    } catch (err) {
      if (errCode(err) !== 'ENOENT') {
        this.#onError(new OffsetStoreError('BANLEDGER_OFFSETS_READ_FAILED', `cannot read offsets file ${this.#file}; starting empty`, { cause: err }))
      }
      return
    }
    let parsed: Map<string, OffsetEntry>
    try {
      parsed = parse(text)
    } catch (err) {
      this.#onError(new OffsetStoreError('BANLEDGER_OFFSETS_CORRUPT', `corrupt offsets file ${this.#file}; starting empty`, { cause: err }))
      return
    }
    for (const [id, entry] of parsed) {
      // An entry `set` before the read finished is newer than the file.
      if (!this.#entries.has(id)) this.#entries.set(id, entry)
    }
  }

  async #writeIfDirty(): Promise<void> {
    if (!this.#dirty) return
    this.#dirty = false
    try {
      const cutoff = this.#now() - this.#retention
      for (const [id, entry] of this.#entries) if (entry.updatedAt < cutoff) this.#entries.delete(id)
      const body = { version: FORMAT_VERSION, files: Object.fromEntries(this.#entries) }
      await writeAtomically(this.#file, `${JSON.stringify(body, null, 1)}\n`)
    } catch (err) {
      this.#dirty = true
      throw new OffsetStoreError('BANLEDGER_OFFSETS_WRITE_FAILED', `cannot write offsets file ${this.#file}`, { cause: err })
    }
  }
}

/** Write a temp file, fsync it, rename it over the target, fsync the folder:
 *  a crash leaves either the old or the new file, never a torn one. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const dir = dirname(file)
  await mkdir(dir, { recursive: true })
  const tmp = `${file}.tmp`
  const fh = await open(tmp, 'w', 0o600)
  try {
    await fh.writeFile(text, 'utf8')
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rename(tmp, file)
  let dh
  try {
    dh = await open(dir, 'r')
    await dh.sync()
  } catch {
    // Some platforms cannot fsync a folder; the rename is still atomic there.
  } finally {
    await dh?.close()
  }
}

/** The file's shape: `{"version":1,"files":{"<fileId>":{"path","offset","updatedAt"[,"cursor"]}}}`. */
function parse(text: string): Map<string, OffsetEntry> {
  const raw: unknown = JSON.parse(text)
  if (!isRecord(raw) || raw['version'] !== FORMAT_VERSION || !isRecord(raw['files'])) {
    throw new Error(`expected {"version":${FORMAT_VERSION},"files":{...}}`)
  }
  const files = new Map<string, OffsetEntry>()
  for (const [id, e] of Object.entries(raw['files'])) {
    if (!isRecord(e) || typeof e['path'] !== 'string'
      || !Number.isSafeInteger(e['offset']) || (e['offset'] as number) < 0
      || typeof e['updatedAt'] !== 'number' || !Number.isFinite(e['updatedAt'])
      || (e['cursor'] !== undefined && (typeof e['cursor'] !== 'string' || e['cursor'] === ''))) {
      throw new Error(`bad entry for ${JSON.stringify(id).slice(0, 100)}`)
    }
    const entry = { path: e['path'], offset: e['offset'] as number, updatedAt: e['updatedAt'] }
    files.set(id, typeof e['cursor'] === 'string' ? { ...entry, cursor: e['cursor'] } : entry)
  }
  return files
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function errCode(err: unknown): string | undefined {
  return isRecord(err) && typeof err['code'] === 'string' ? err['code'] : undefined
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}
