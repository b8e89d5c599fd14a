// Follows the systemd journal through journalctl and hands its entries, as
// lines (journal-entry.ts), to `onLines`:
//   journalctl --output=json --all --follow --no-tail --no-pager --output-fields=...
//              (--after-cursor=CURSOR | --since=@EPOCH) -- MATCHES...
// run with an argv array, never a shell. The cursor of an entry is
// committed to the OffsetStore (key `journal:<matches>`) only after
// `onLines` resolved for the entries up to it, so a crash re-reads, never
// skips. Without a stored cursor it starts at `since` (the watcher passes
// now minus the jails' horizon), so a first start reads back only that.
//
// Like FileFollower it never retries by itself: when journalctl cannot be
// started or exits (missing, no permission, a refused cursor), or onLines
// rejects, it stops in state 'failed' with the reason, and its supervisor
// (the watcher) starts a new one after a backoff. A cursor journalctl
// refuses is forgotten first, so the next start reads from `since`.
//
// Output is read with a bound: a JSON line longer than 6 x maxLineBytes +
// 16 KiB (room for MESSAGE escaped or written as byte values) is skipped
// whole; MESSAGE itself is cut to maxLineBytes. journalctl exits by itself
// when its stdout is closed (this process died), and close() kills it.
import { spawn, type ChildProcess } from 'node:child_process'
import { CodedError } from '../coded-error.js'
import { CURSOR, JOURNAL_FIELDS, recordOfJson } from './journal-entry.js'
import { matchArgs, type JournalMatch } from './journal-match.js'
import type { OffsetStore } from './offset-store.js'

export type JournalLine = Readonly<{
  /** `<RFC 3339 time> <host> <identifier>[<pid>]: <message>` (see journal-entry.ts). */
  text: string
  /** Stable id of the entry (host and jail are added for the event id). */
  entryId: string
  /** Present when MESSAGE was longer than maxLineBytes and was cut. */
  truncated?: true
}>

export type JournalNoticeLevel = 'debug' | 'info' | 'warn'

export type JournalFollowerOptions = Readonly<{
  /** The OffsetStore key of this source's cursor, e.g. `journal:_COMM=sshd`. */
  key: string
  /** Never empty: the watcher always gives journalctl matches. */
  matches: JournalMatch
  offsets: OffsetStore
  /** MESSAGE is cut to this many bytes (at a character boundary). */
  maxLineBytes: number
  /** ms since the epoch: where to start when the store has no cursor for `key`. */
  since: number
  /** Called with each chunk of entries that have a text, in journal order;
   *  awaited; their cursor is committed only after it resolves. If it
   *  rejects, the follower stops (state 'failed'). */
  onLines: (lines: readonly JournalLine[]) => Promise<void>
  /** For logging: where reading starts, journalctl's stderr, skipped
   *  entries (`untrusted` holds their text, cut). */
  onNotice?: (level: JournalNoticeLevel, message: string, detail?: Readonly<Record<string, unknown>>) => void
  /** Default `journalctl` (looked up in PATH). */
  command?: string
  /** Default 1000. */
  maxChunkLines?: number
}>

export type JournalFollowerState = 'idle' | 'following' | 'failed' | 'closed'

/** Stable error codes of this module (never reused). */
export type JournalErrorCode =
  /** journalctl could not be started (not installed, not executable). */
  | 'BANLEDGER_JOURNAL_SPAWN'
  /** journalctl exited or was killed while followed (its stderr is in the message). */
  | 'BANLEDGER_JOURNAL_EXITED'

export class JournalError extends CodedError<JournalErrorCode> {
  override readonly name = 'JournalError'
}

const NL = 0x0a
const UNTRUSTED_MAX = 200
const STDERR_KEEP = 2048
const STDERR_LINES_REPORTED = 20
const KILL_GRACE = 2000
/** Refresh a quiet source's store entry so it is not pruned as unseen. */
const TOUCH_INTERVAL = 60 * 60 * 1000

type Exit = { code: number | null; signal: NodeJS.Signals | null } | { error: Error }
type Pending = { line: JournalLine | null; cursor: string }

/** Unwinds the read loop after close() or a failed delivery. */
class Stop extends Error {}

/** journalctl's arguments: JSON with every field whole (`--all`), from
 *  after `cursor`, else from `since`; options before `--`, matches after. */
export function journalctlArgs(o: Readonly<{ cursor: string | undefined; since: number; matches: JournalMatch }>): string[] {
  const from = o.cursor !== undefined
    ? `--after-cursor=${o.cursor}`
    : `--since=@${Number.isFinite(o.since) ? Math.max(0, Math.floor(o.since / 1000)) : 0}`
  return [
    '--output=json', '--all', '--follow', '--no-tail', '--no-pager',
    `--output-fields=${JOURNAL_FIELDS.join(',')}`, from, '--', ...matchArgs(o.matches),
  ]
}

export class JournalFollower {
  readonly #o: JournalFollowerOptions
  readonly #maxChunkLines: number
  readonly #maxJsonBytes: number
  #state: JournalFollowerState = 'idle'
  #error: Error | undefined
  #child: ChildProcess | undefined
  #exit: Promise<Exit> | undefined
  #starting: Promise<void> | undefined
  #loop: Promise<void> | undefined
  #closing: Promise<void> | undefined
  #stopping = false
  #startedAfterCursor = false
  #entriesRead = 0
  #stderr = ''
  #stderrLines = 0
  /** The line being assembled (at most #maxJsonBytes kept) and its first bytes. */
  #parts: Buffer[] = []
  #kept = 0
  #overlong = 0
  #head = ''
  #pending: Pending[] = []
  #committed: string | undefined
  #touchedAt = 0
  #touch: NodeJS.Timeout | undefined
  #resolveStopped: () => void = () => {}
  /** Resolves (never rejects) once the follower stopped: closed or failed. */
  readonly stopped: Promise<void> = new Promise((resolve) => { this.#resolveStopped = resolve })

  constructor(opts: JournalFollowerOptions) {
    const { maxLineBytes, maxChunkLines = 1000 } = opts
    if (!Number.isSafeInteger(maxLineBytes) || maxLineBytes < 1) throw new TypeError('JournalFollower: maxLineBytes must be a positive integer')
    if (!Number.isSafeInteger(maxChunkLines) || maxChunkLines < 1) throw new TypeError('JournalFollower: maxChunkLines must be a positive integer')
    if (opts.matches.length === 0) throw new TypeError('JournalFollower: matches must not be empty')
    this.#o = opts
    this.#maxChunkLines = maxChunkLines
    this.#maxJsonBytes = 6 * maxLineBytes + 16 * 1024
  }

  get state(): JournalFollowerState { return this.#state }
  /** Why the follower failed (journalctl's exit, or the rejection of onLines). */
  get error(): Error | undefined { return this.#error }

  /** Starts journalctl after the stored cursor (or at `since`), then
   *  follows in the background. Resolves once journalctl was spawned. */
  start(): Promise<void> {
    if (this.#starting !== undefined || this.#closing !== undefined) throw new TypeError('JournalFollower: start() called twice or after close()')
    this.#starting = this.#start()
    return this.#starting
  }

  /** Stops promptly: kills journalctl, waits for an in-flight onLines (its
   *  entries, being acknowledged, are committed), then commits nothing
   *  further. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stopping = true
      await this.#starting?.catch(() => {})
      this.#child?.kill('SIGTERM')
      if (this.#loop !== undefined) await this.#loop
      if (this.#state !== 'failed') this.#state = 'closed'
      this.#resolveStopped()
    })()
    return this.#closing
  }

  async #start(): Promise<void> {
    const { offsets, key } = this.#o
    await offsets.load()
    let cursor = await offsets.getCursor(key)
    if (cursor !== undefined && !CURSOR.test(cursor)) {
      this.#notice('warn', `the stored journal cursor of ${key} is not one journalctl wrote; reading from the horizon`)
      cursor = undefined
    }
    if (this.#stopping) return
    this.#startedAfterCursor = cursor !== undefined
    this.#committed = cursor
    this.#touchedAt = Date.now()
    const args = journalctlArgs({ cursor, since: this.#o.since, matches: this.#o.matches })
    let child: ChildProcess
    try {
      child = spawn(this.#o.command ?? 'journalctl', args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '' },
      })
    } catch (err) {
      this.#fail(new JournalError('BANLEDGER_JOURNAL_SPAWN', `cannot run ${this.#o.command ?? 'journalctl'}: ${(err as Error).message}`, { cause: err }))
      this.#resolveStopped()
      return
    }
    this.#child = child
    this.#exit = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }))
      // Kept (not once): a failed kill() also emits 'error'; the first one counts.
      child.on('error', (error) => resolve({ error }))
    })
    child.stderr?.on('data', (d: Buffer) => this.#onStderr(d))
    this.#state = 'following'
    this.#notice('info', cursor !== undefined
      ? `reading the journal (${key}) after its stored cursor`
      : `reading the journal (${key}) from ${new Date(Math.max(0, this.#o.since)).toISOString()} (no cursor yet)`)
    this.#touch = setInterval(() => this.#refresh(), Math.min(TOUCH_INTERVAL, 10 * 60 * 1000))
    this.#touch.unref()
    this.#loop = this.#run(child)
  }

  async #run(child: ChildProcess): Promise<void> {
    let readError: Error | undefined
    try {
      if (child.stdout === null) throw new Error('journalctl has no stdout')
      for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
        this.#split(chunk)
        await this.#deliver()
        if (this.#stopping) break
      }
      // stdout ended: journalctl exited. A last line without its newline
      // is incomplete and dropped (journalctl ends every entry with one).
    } catch (err) {
      if (!(err instanceof Stop)) readError = err instanceof Error ? err : new Error(String(err))
    } finally {
      if (this.#touch !== undefined) clearInterval(this.#touch)
      const exit = await this.#reap(child)
      if (!this.#stopping && this.#state !== 'failed') {
        this.#fail(readError === undefined || 'error' in exit ? this.#exitError(exit) : readError)
      }
      if (this.#state !== 'failed') this.#state = 'closed'
      this.#resolveStopped()
    }
  }

  /** Kills journalctl if it still runs (SIGTERM, then SIGKILL) and waits for it. */
  async #reap(child: ChildProcess): Promise<Exit> {
    const exit = this.#exit ?? Promise.resolve<Exit>({ code: null, signal: null })
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE)
    try {
      return await exit
    } finally {
      clearTimeout(timer)
    }
  }

  #exitError(exit: Exit): Error {
    if ('error' in exit) {
      return new JournalError('BANLEDGER_JOURNAL_SPAWN', `cannot run ${this.#o.command ?? 'journalctl'}: ${exit.error.message}`, { cause: exit.error })
    }
    const stderr = this.#stderr.trim().split('\n').slice(-3).join(' / ')
    const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
    if (this.#startedAfterCursor && this.#entriesRead === 0 && exit.code !== 0 && /cursor/i.test(this.#stderr)) {
      // A cursor it cannot seek to would fail every restart: forget it.
      this.#o.offsets.delete(this.#o.key)
      this.#notice('warn', `journalctl refused the stored cursor of ${this.#o.key}; the next start reads from the horizon`)
    }
    return new JournalError('BANLEDGER_JOURNAL_EXITED', `journalctl ${how}${stderr === '' ? '' : `: ${stderr}`}`)
  }

  #onStderr(d: Buffer): void {
    const text = d.toString('utf8')
    this.#stderr = (this.#stderr + text).slice(-STDERR_KEEP)
    for (const line of text.split('\n')) {
      if (line.trim() === '' || this.#stderrLines >= STDERR_LINES_REPORTED) continue
      this.#stderrLines++
      this.#notice('warn', `journalctl: ${line.slice(0, 500)}`)
    }
  }

  #split(chunk: Buffer): void {
    let i = 0
    while (i < chunk.length) {
      const nl = chunk.indexOf(NL, i)
      const end = nl === -1 ? chunk.length : nl
      this.#append(chunk.subarray(i, end))
      if (nl === -1) break
      this.#endLine()
      i = nl + 1
    }
  }

  /** Adds bytes to the line being assembled; past the bound, only counts them. */
  #append(bytes: Buffer): void {
    if (bytes.length === 0) return
    if (this.#kept === 0 && this.#overlong === 0) this.#head = bytes.subarray(0, UNTRUSTED_MAX).toString('utf8')
    if (this.#overlong > 0 || this.#kept + bytes.length > this.#maxJsonBytes) {
      this.#overlong += this.#kept + bytes.length
      this.#parts = []
      this.#kept = 0
      return
    }
    this.#parts.push(bytes) // each chunk is a fresh Buffer: no copy needed
    this.#kept += bytes.length
  }

  #endLine(): void {
    const parts = this.#parts
    const kept = this.#kept
    const overlong = this.#overlong
    this.#parts = []
    this.#kept = this.#overlong = 0
    if (overlong > 0) {
      this.#notice('debug', `journal entry of ${overlong} bytes skipped (more than ${this.#maxJsonBytes})`, { untrusted: this.#head })
      return
    }
    if (kept === 0) return
    const json = Buffer.concat(parts, kept).toString('utf8')
    const record = recordOfJson(json, this.#o.maxLineBytes)
    if (typeof record === 'string') {
      this.#notice('debug', `journal line skipped: ${record}`, { untrusted: json.slice(0, UNTRUSTED_MAX) })
      return
    }
    this.#entriesRead++
    const line = record.text === null ? null : {
      text: record.text, entryId: record.entryId, ...(record.truncated === true ? { truncated: true as const } : {}),
    }
    this.#pending.push({ line, cursor: record.cursor })
  }

  async #deliver(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#maxChunkLines)
      const last = batch[batch.length - 1]
      if (last === undefined) return
      const lines = batch.flatMap(p => (p.line === null ? [] : [p.line]))
      if (lines.length > 0) {
        try {
          await this.#o.onLines(lines)
        } catch (err) {
          this.#fail(err instanceof Error ? err : new Error(String(err)))
          throw new Stop()
        }
      }
      this.#commit(last.cursor)
      if (this.#stopping) throw new Stop()
    }
  }

  #commit(cursor: string): void {
    this.#o.offsets.setCursor(this.#o.key, cursor)
    this.#committed = cursor
    this.#touchedAt = Date.now()
  }

  #refresh(): void {
    if (this.#committed === undefined || Date.now() - this.#touchedAt < TOUCH_INTERVAL) return
    try {
      this.#commit(this.#committed)
    } catch {
      // The store is closing: nothing to keep fresh any more.
    }
  }

  #notice(level: JournalNoticeLevel, message: string, detail?: Readonly<Record<string, unknown>>): void {
    try {
      this.#o.onNotice?.(level, message, detail)
    } catch {
      // A logging callback must not stop the follower.
    }
  }

  #fail(err: Error): void {
    if (this.#state === 'failed') return
    this.#error = err
    this.#state = 'failed'
    this.#child?.kill('SIGTERM')
  }
}
