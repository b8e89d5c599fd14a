// Follows one log file by path with `tail -F` semantics (rotation by rename,
// copytruncate, delete and re-create, a file that does not exist yet) and
// hands complete lines to `onLines`. Its read position is committed to the
// OffsetStore only after `onLines` resolved for the lines before it, so a
// crash re-reads and never skips (DESIGN.md, Watcher).
//
// File identity. A line's event id is (host, fileId, byte offset), and
// offsets are stored per fileId, so the identity must not be shared by two
// different contents:
// - dev + ino alone is not enough: an inode number is reused once a rotated
//   file is deleted, and copytruncate keeps the inode while the content
//   starts over at offset 0. Either would make new lines look like already
//   committed ones (skipped on resume, or dropped by the ledger as duplicates
//   of old event ids).
// - so the identity also hashes the file's first line (at most its first 256
//   bytes). That prefix never changes while the file only grows, so the
//   identity is stable for the life of the content, and is known as soon as
//   the first line is complete (or 256 bytes exist). Until then the file holds
//   no complete line, so nothing needs an identity yet.
// Known limit: a copytruncate whose new first line is byte-identical to the
// old one (same timestamp and text) keeps the old identity.
//
// Known gaps:
// - Lines a writer appends to a rotated-away file after the follower moved on
//   to the new file are not read (as with `tail -F`).
// - A rotation while the follower is stopped: the rest of the old file is
//   recovered only if it is at `<path>.1` (uncompressed) and its identity is in
//   the OffsetStore; otherwise only the new file is read, from its start.
import { createHash } from 'node:crypto'
import { open, stat } from 'node:fs/promises'
import type { BigIntStats } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import type { Millis } from '../../ledger/rules/types.js'
import type { OffsetStore } from './offset-store.js'
import { seekByTime, type TimeOf } from './seek-by-time.js'
import { CodedError } from '../coded-error.js'
import { utf8Boundary } from './utf8.js'

export type LogLine = Readonly<{
  /** UTF-8 decoded (invalid bytes become U+FFFD), without `\n` or a trailing `\r`. */
  text: string
  /** Byte offset of the line's start in its file. */
  offset: number
  fileId: string
  /** The followed path (also for lines read from a rotated-away file). */
  path: string
  /** Present when the line was longer than maxLineBytes and was cut. */
  truncated?: true
}>

export type FollowerOptions = Readonly<{
  path: string
  /** Called with each chunk of complete lines, in file order. The follower
   *  awaits it; the offset of those lines is committed (offsets.set) only
   *  after it resolves. If it rejects, the follower stops reading (state
   *  'failed', error kept): it never retries by itself; its supervisor
   *  restarts it. */
  onLines: (lines: readonly LogLine[]) => Promise<void>
  offsets: OffsetStore
  /** Longer lines are cut to at most this many bytes (at a character
   *  boundary) and flagged `truncated`; the rest of the line is skipped. */
  maxLineBytes: number
  /** ms between checks of the path for growth and rotation. */
  pollInterval: number
  /** Where to start in a file never seen before, when this path has no
   *  history in the OffsetStore. Files that appear later (created, rotated
   *  in) are always read from their start. Default 'start'. */
  startAt?: 'start' | 'end'
  /** With startAt 'start': in a large file never seen before, begin near
   *  the first line at or after `since` (seek-by-time.ts), not at byte 0. */
  seek?: Readonly<{ since: Millis; timeOf: TimeOf }>
  /** Default 1000. */
  maxChunkLines?: number
  /** For logging: a missing or unreadable file (each reported once until it
   *  is readable again). The follower keeps waiting after these. */
  onError?: (err: Error) => void
}>

export type FollowerState =
  | 'idle' // not started
  | 'following' // the path is open and read
  | 'waiting' // the path does not exist (or cannot be opened); checked every pollInterval
  | 'failed' // stopped by an error (see `error`); never restarts by itself
  | 'closed'

/** Stable error codes of this module (never reused). */
export type FollowerErrorCode =
  /** The path does not exist (yet, or any more); the follower waits for it. */
  | 'BANLEDGER_FOLLOWER_FILE_MISSING'
  /** The path exists but cannot be opened or checked (e.g. EACCES); the follower waits. */
  | 'BANLEDGER_FOLLOWER_OPEN_FAILED'
  /** Reading an open file failed; the follower stops ('failed'). */
  | 'BANLEDGER_FOLLOWER_READ_FAILED'

export class FollowerError extends CodedError<FollowerErrorCode> {
  override readonly name = 'FollowerError'
}

const READ_SIZE = 64 * 1024
const PREFIX_BYTES = 256
/** Refresh a quiet file's store entry so it is not pruned as unseen. */
const TOUCH_INTERVAL = 60 * 60 * 1000
const NL = 0x0a
const CR = 0x0d

type Identity = { fileId: string; prefix: Buffer }
type Pending = { line: LogLine; end: number }

/** One open file and our position in it. */
type Tracked = {
  fh: FileHandle
  dev: bigint
  ino: bigint
  id: Identity | undefined
  /** Next byte to read. */
  pos: number
  /** Start of the line being assembled, and its bytes so far (at most maxLineBytes kept). */
  lineStart: number
  parts: Buffer[]
  kept: number
  total: number
  lastByte: number
  /** Complete lines read and not delivered yet. */
  pending: Pending[]
  touchedAt: number
}

/** Unwinds the read loop after close() or a failed delivery. */
class Stop extends Error {}

export class FileFollower {
  readonly #o: FollowerOptions
  readonly #maxChunkLines: number
  readonly #buf = Buffer.allocUnsafe(READ_SIZE)
  #state: FollowerState = 'idle'
  #error: Error | undefined
  #cur: Tracked | undefined
  #starting: Promise<void> | undefined
  #loop: Promise<void> | undefined
  #closing: Promise<void> | undefined
  #stopping = false
  #wake: (() => void) | undefined
  readonly #reported = new Set<string>()
  #resolveStopped: () => void = () => {}
  /** Resolves (never rejects) once the follower stopped: closed or failed. */
  readonly stopped: Promise<void> = new Promise((resolve) => { this.#resolveStopped = resolve })

  constructor(opts: FollowerOptions) {
    const { maxLineBytes, pollInterval, maxChunkLines = 1000 } = opts
    if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) throw new TypeError('FileFollower: maxLineBytes must be a positive integer')
    if (!(pollInterval > 0)) throw new TypeError('FileFollower: pollInterval must be > 0')
    if (!Number.isSafeInteger(maxChunkLines) || maxChunkLines < 1) throw new TypeError('FileFollower: maxChunkLines must be a positive integer')
    this.#o = opts
    this.#maxChunkLines = maxChunkLines
  }

  get state(): FollowerState { return this.#state }
  /** Why the follower failed (the rejection of onLines, or a read error). */
  get error(): Error | undefined { return this.#error }

  /** Opens the file (or notes that it is missing) and decides where to
   *  start, then follows in the background. Resolves once that position is
   *  fixed: lines appended after it are delivered. */
  start(): Promise<void> {
    if (this.#starting !== undefined || this.#closing !== undefined) throw new TypeError('FileFollower: start() called twice or after close()')
    this.#starting = this.#start()
    return this.#starting
  }

  /** Stops promptly: waits for an in-flight onLines (its lines, being
   *  acknowledged, are committed), then commits nothing further. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopping = true
      this.#wake?.()
      await this.#starting?.catch(() => {})
      if (this.#loop !== undefined) await this.#loop
      else await this.#release()
      if (this.#state !== 'failed') this.#state = 'closed'
      this.#resolveStopped()
    })()
    return this.#closing
  }

  async #start(): Promise<void> {
    try {
      await this.#o.offsets.load()
      const t = await this.#tryOpen()
      if (t !== undefined) {
        this.#cur = t
        await this.#position(t, true)
      }
      this.#state = t === undefined ? 'waiting' : 'following'
    } catch (err) {
      await this.#release()
      this.#fail(new FollowerError('BANLEDGER_FOLLOWER_READ_FAILED', `cannot read ${this.#o.path}`, { cause: err }))
      this.#resolveStopped()
      throw err
    }
    if (!this.#stopping) this.#loop = this.#run()
  }

  async #run(): Promise<void> {
    try {
      await this.#recoverRotatedAway()
      while (!this.#stopping) {
        await this.#cycle()
        if (this.#stopping) break
        await this.#sleep(this.#o.pollInterval)
      }
    } catch (err) {
      if (!(err instanceof Stop)) this.#fail(new FollowerError('BANLEDGER_FOLLOWER_READ_FAILED', `cannot read ${this.#o.path}`, { cause: err }))
    } finally {
      await this.#release()
      if (this.#state !== 'failed') this.#state = 'closed'
      this.#resolveStopped()
    }
  }

  /** One poll: read what was appended, then switch files if the path now
   *  names another one (after reading the old one to its end). */
  async #cycle(): Promise<void> {
    if (this.#cur === undefined) {
      const t = await this.#tryOpen()
      if (t === undefined) { this.#state = 'waiting'; return }
      this.#cur = t
      await this.#position(t, false)
    }
    const t = this.#cur
    const st = await this.#statPath()
    const same = st !== undefined && st.dev === t.dev && st.ino === t.ino
    // The path still names the open file: its stat is the file's, so an
    // idle poll costs this one stat (no fstat, no read).
    await this.#follow(t, same ? Number(st.size) : undefined)
    if (st !== undefined && !same) {
      await this.#finish(t)
      this.#cur = undefined
      await t.fh.close()
      const next = await this.#tryOpen()
      if (next !== undefined) {
        this.#cur = next
        await this.#position(next, false)
        await this.#follow(next)
      }
    }
    this.#state = st !== undefined && this.#cur !== undefined ? 'following' : 'waiting'
    const cur = this.#cur
    if (cur?.id !== undefined && Date.now() - cur.touchedAt > TOUCH_INTERVAL) this.#commit(cur, cur.lineStart)
  }

  /** Where to start reading a newly opened file. */
  async #position(t: Tracked, initial: boolean): Promise<void> {
    const size = Number((await t.fh.stat({ bigint: true })).size)
    t.id = await this.#identify(t.fh, t.dev, t.ino, false)
    if (t.id === undefined) return // no complete line yet: start at 0
    const stored = await this.#o.offsets.get(t.id.fileId)
    let pos = 0
    if (stored !== undefined) {
      pos = stored > size ? 0 : stored // beyond the end: truncated meanwhile
    } else if (initial && (await this.#o.offsets.entriesFor(this.#o.path)).size === 0) {
      if (this.#o.startAt === 'end') pos = await endOfLastLine(t.fh, size, this.#buf)
      else if (this.#o.seek !== undefined) pos = await seekByTime(t.fh, size, this.#o.seek.since, this.#o.seek.timeOf)
    }
    t.pos = t.lineStart = pos
    this.#commit(t, pos)
  }

  /** A rotation while we were stopped: if `<path>.1` is a file we were
   *  reading and did not finish, read its rest before the current file. */
  async #recoverRotatedAway(): Promise<void> {
    const known = await this.#o.offsets.entriesFor(this.#o.path)
    if (known.size === 0) return
    let fh: FileHandle | undefined
    try {
      fh = await open(`${this.#o.path}.1`, 'r')
    } catch {
      return // none there: the usual case
    }
    try {
      const st = await fh.stat({ bigint: true })
      if (this.#cur !== undefined && st.dev === this.#cur.dev && st.ino === this.#cur.ino) return
      const id = await this.#identify(fh, st.dev, st.ino, false)
      const offset = id === undefined ? undefined : known.get(id.fileId)?.offset
      if (id === undefined || offset === undefined || offset >= Number(st.size)) return
      const t = tracked(fh, st, offset)
      t.id = id
      await this.#finish(t)
    } finally {
      await fh.close()
    }
  }

  /** Reads what was appended to `t`, after checking that it was not
   *  truncated (copytruncate) or rewritten in place. `knownSize`: the
   *  file's size from a stat just taken (else fstat). */
  async #follow(t: Tracked, knownSize?: number): Promise<void> {
    const size = knownSize ?? Number((await t.fh.stat({ bigint: true })).size)
    if (size < t.pos || (t.id !== undefined && size > t.pos && !(await prefixMatches(t.fh, t.id.prefix)))) {
      await this.#restartAfterTruncation(t)
    }
    // Nothing appended since the last read (growth after this stat is
    // read at the next poll, as growth after a read always was).
    if (t.id !== undefined && size === t.pos) return
    if (t.id === undefined) {
      t.id = await this.#identify(t.fh, t.dev, t.ino, false)
      if (t.id === undefined) return
      this.#commit(t, t.lineStart)
    }
    await this.#readToEof(t)
  }

  /** copytruncate: the lines not read yet are in the copy; if it is at
   *  `<path>.1` with the same first line, read them from there. Then start
   *  over at 0; the new content has a new identity (see the top). */
  async #restartAfterTruncation(t: Tracked): Promise<void> {
    if (t.id !== undefined) {
      let copy: FileHandle | undefined
      try {
        copy = await open(`${this.#o.path}.1`, 'r')
        const size = Number((await copy.stat({ bigint: true })).size)
        if (size >= t.pos && await prefixMatches(copy, t.id.prefix)) {
          const orig = t.fh
          t.fh = copy
          try { await this.#readToEof(t) } finally { t.fh = orig }
        }
      } catch (err) {
        if (err instanceof Stop) throw err
      } finally {
        await copy?.close()
      }
    }
    await this.#finish(t, false)
    Object.assign(t, tracked(t.fh, t, 0))
  }

  /** The file is left behind (rotated, truncated): deliver all of it,
   *  including a last line that has no newline. */
  async #finish(t: Tracked, readRest = true): Promise<void> {
    if (readRest) {
      t.id ??= await this.#identify(t.fh, t.dev, t.ino, true)
      if (t.id === undefined) return // empty
      await this.#readToEof(t)
    }
    if (t.id === undefined) return
    if (t.total > 0) this.#completeLine(t, t.pos)
    await this.#deliver(t, t.pending.length)
  }

  async #readToEof(t: Tracked): Promise<void> {
    while (true) {
      if (this.#stopping) throw new Stop()
      const { bytesRead } = await t.fh.read(this.#buf, 0, READ_SIZE, t.pos)
      if (bytesRead === 0) break
      this.#split(t, this.#buf.subarray(0, bytesRead))
      while (t.pending.length >= this.#maxChunkLines) await this.#deliver(t, this.#maxChunkLines)
      if (bytesRead < READ_SIZE) break
    }
    await this.#deliver(t, t.pending.length)
  }

  #split(t: Tracked, chunk: Buffer): void {
    let i = 0
    while (i < chunk.length) {
      const nl = chunk.indexOf(NL, i)
      const end = nl === -1 ? chunk.length : nl
      const bytes = chunk.subarray(i, end)
      t.pos += end - i
      if (nl === -1) {
        this.#append(t, bytes)
        break
      }
      t.pos += 1
      if (t.total === 0) {
        this.#completeLine(t, t.pos, bytes) // the whole line is in this chunk: no copy
      } else {
        this.#append(t, bytes)
        this.#completeLine(t, t.pos)
      }
      i = nl + 1
    }
  }

  /** Adds bytes to the line being assembled, keeping at most maxLineBytes. */
  #append(t: Tracked, bytes: Buffer): void {
    if (bytes.length === 0) return
    t.total += bytes.length
    t.lastByte = bytes[bytes.length - 1] ?? -1
    const room = this.#o.maxLineBytes - t.kept
    if (room <= 0) return
    const take = bytes.subarray(0, Math.min(room, bytes.length))
    t.parts.push(Buffer.from(take)) // a copy: the read buffer is reused
    t.kept += take.length
  }

  /** Ends the line being assembled at `end`; `whole` is the line's bytes
   *  when none were assembled before. */
  #completeLine(t: Tracked, end: number, whole?: Buffer): void {
    const id = t.id
    if (id === undefined) throw new Error('FileFollower: a line before the file identity') // an invariant
    const total = whole?.length ?? t.total
    const lastByte = whole === undefined ? t.lastByte : whole[whole.length - 1]
    const length = lastByte === CR ? total - 1 : total
    const truncated = length > this.#o.maxLineBytes
    let bytes = (whole ?? Buffer.concat(t.parts, t.kept)).subarray(0, Math.min(length, this.#o.maxLineBytes))
    if (truncated) bytes = bytes.subarray(0, utf8Boundary(bytes))
    const line: LogLine = {
      text: bytes.toString('utf8'),
      offset: t.lineStart,
      fileId: id.fileId,
      path: this.#o.path,
      ...(truncated ? { truncated: true as const } : {}),
    }
    t.pending.push({ line, end })
    t.lineStart = end
    t.parts = []
    t.kept = t.total = 0
    t.lastByte = -1
  }

  async #deliver(t: Tracked, n: number): Promise<void> {
    if (n === 0) return
    const batch = t.pending.splice(0, n)
    const last = batch[batch.length - 1]
    if (last === undefined) return
    try {
      await this.#o.onLines(batch.map((p) => p.line))
    } catch (err) {
      this.#fail(err instanceof Error ? err : new Error(String(err)))
      throw new Stop()
    }
    this.#commit(t, last.end)
    if (this.#stopping) throw new Stop()
  }

  #commit(t: Tracked, offset: number): void {
    if (t.id === undefined) return
    this.#o.offsets.set(t.id.fileId, this.#o.path, offset)
    t.touchedAt = Date.now()
  }

  async #identify(fh: FileHandle, dev: bigint, ino: bigint, final: boolean): Promise<Identity | undefined> {
    const buf = Buffer.alloc(PREFIX_BYTES)
    const { bytesRead } = await fh.read(buf, 0, PREFIX_BYTES, 0)
    const nl = buf.subarray(0, bytesRead).indexOf(NL)
    let prefix: Buffer
    if (nl !== -1) prefix = buf.subarray(0, nl + 1)
    else if (bytesRead === PREFIX_BYTES || (final && bytesRead > 0)) prefix = buf.subarray(0, bytesRead)
    else return undefined
    const hash = createHash('sha256').update(prefix).digest('hex').slice(0, 8)
    return { fileId: `${dev}:${ino}:${hash}`, prefix }
  }

  async #tryOpen(): Promise<Tracked | undefined> {
    try {
      const fh = await open(this.#o.path, 'r')
      try {
        const st = await fh.stat({ bigint: true })
        if (!st.isFile()) {
          await fh.close()
          this.#unavailable(Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' }))
          return undefined
        }
        this.#reported.clear()
        return tracked(fh, st, 0)
      } catch (err) {
        await fh.close()
        throw err
      }
    } catch (err) {
      this.#unavailable(err)
      return undefined
    }
  }

  async #statPath(): Promise<BigIntStats | undefined> {
    try {
      const st = await stat(this.#o.path, { bigint: true })
      this.#reported.delete('missing')
      return st
    } catch (err) {
      this.#unavailable(err)
      return undefined
    }
  }

  /** Reports a missing or unopenable path once, then waits quietly. */
  #unavailable(err: unknown): void {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'unknown'
    const missing = code === 'ENOENT' || code === 'ENOTDIR'
    const key = missing ? 'missing' : code
    if (this.#reported.has(key)) return
    this.#reported.add(key)
    this.#report(missing
      ? new FollowerError('BANLEDGER_FOLLOWER_FILE_MISSING', `${this.#o.path} does not exist; waiting for it`, { cause: err })
      : new FollowerError('BANLEDGER_FOLLOWER_OPEN_FAILED', `cannot open ${this.#o.path} (${code}); waiting`, { cause: err }))
  }

  #report(err: Error): void {
    try {
      this.#o.onError?.(err)
    } catch {
      // A logging callback must not stop the follower.
    }
  }

  #fail(err: Error): void {
    if (this.#state === 'failed') return
    this.#error = err
    this.#state = 'failed'
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#wake = done
    })
  }

  async #release(): Promise<void> {
    const t = this.#cur
    this.#cur = undefined
    await t?.fh.close().catch(() => {})
  }
}

function tracked(fh: FileHandle, st: Readonly<{ dev: bigint; ino: bigint }>, pos: number): Tracked {
  return {
    fh, dev: st.dev, ino: st.ino, id: undefined,
    pos, lineStart: pos, parts: [], kept: 0, total: 0, lastByte: -1, pending: [], touchedAt: 0,
  }
}

async function prefixMatches(fh: FileHandle, prefix: Buffer): Promise<boolean> {
  const buf = Buffer.alloc(prefix.length)
  const { bytesRead } = await fh.read(buf, 0, prefix.length, 0)
  return bytesRead === prefix.length && buf.equals(prefix)
}

/** The offset just after the file's last newline (0 if none): a line being
 *  written when we start is read whole once it is complete. */
async function endOfLastLine(fh: FileHandle, size: number, buf: Buffer): Promise<number> {
  let end = size
  while (end > 0) {
    const start = Math.max(0, end - buf.length)
    const { bytesRead } = await fh.read(buf, 0, end - start, start)
    const i = buf.subarray(0, bytesRead).lastIndexOf(NL)
    if (i !== -1) return start + i + 1
    end = start
  }
  return 0
}
