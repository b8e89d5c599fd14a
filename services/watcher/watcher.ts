// The watcher: follows each jail's log files, or the systemd journal, runs
// its filters and publishes failure/success events. A file's offset (a
// journal source's cursor) moves only after the bus acknowledged the events
// of the lines before it, so a crash re-reads, never skips; event ids are
// deterministic (host, file identity and byte offset or journal entry,
// jail), so a re-read line is the same event and the ledger drops it.
//
// Jails on the journal with the same matches share one journalctl (one
// source, keyed `journal:<matches>`), as jails on one file share a follower.
import type { Logger } from 'pino'
import type { LogEvent, Millis } from '../../ledger/rules/types.js'
import type { Bus } from '../bus/bus.js'
import { FileFollower, type LogLine } from './file-follower.js'
import type { LineFilter } from './filters/filter.js'
import { JournalFollower, type JournalLine } from './journal-follower.js'
import { formatMatch, type JournalMatch } from './journal-match.js'
import { parseSyslogTime } from './filters/syslog-time.js'
import { filesMatching, isGlob } from './log-globs.js'
import { OffsetStore } from './offset-store.js'

export type WatchedJail = Readonly<{
  name: string
  /** The files read (empty for a jail on the journal). */
  logpath: readonly string[]
  /** journalctl matches when the jail reads the systemd journal
   *  (`backend: systemd`), else null. */
  journal: JournalMatch | null
  failure: LineFilter
  success: LineFilter | null
  /** Events older than this (the jail's findtime, or its grace when longer)
   *  can change nothing: the watcher does not publish them. So a first
   *  start, which reads existing logs, sends back only that much history. */
  horizon: Millis
}>

export type WatcherOptions = Readonly<{
  host: string
  jails: readonly WatchedJail[]
  offsetsFile: string
  maxLineBytes: number
  pollInterval: Millis
  bus: Bus
  logger: Logger
  now: () => Millis
}>

const MIN_BACKOFF = 1000
/** Glob patterns in logpath are expanded again this many poll intervals
 *  apart (10 s with the default 250 ms), at least every second. */
const GLOB_RESCAN_POLLS = 40

const MAX_BACKOFF = 60_000
const UNTRUSTED_MAX = 200

/** Turns the lines of one source (a file or a journal source) into events
 *  for every jail that reads it. */
export function eventsOfLines(
  lines: readonly (LogLine | JournalLine)[], jails: readonly WatchedJail[], host: string, now: Millis,
): LogEvent[] {
  const events: LogEvent[] = []
  for (const line of lines) {
    const journal = 'entryId' in line
    const where = journal ? `journal/${line.entryId}` : `${line.fileId}/${line.offset}`
    const source = journal ? 'journal' : line.path
    for (const jail of jails) {
      let kind: 'failure' | 'success' = 'failure'
      let m = jail.failure.match(line.text, now)
      if (m === null && jail.success !== null) {
        m = jail.success.match(line.text, now)
        kind = 'success'
      }
      if (m === null || m.at < now - jail.horizon) continue
      events.push({
        type: 'log', kind, id: `${host}/${where}/${jail.name}`, jail: jail.name,
        ip: m.ip, at: m.at, host, source, receivedAt: now,
        ...(m.user !== undefined ? { user: m.user } : {}),
      })
    }
  }
  return events
}

/** The jails as one log source reads them: each stateful filter (see
 *  LineFilter.forSource) a copy of its own. */
export const forSource = (jails: readonly WatchedJail[]): WatchedJail[] => jails.map(j => ({
  ...j, failure: j.failure.forSource?.() ?? j.failure, success: j.success?.forSource?.() ?? j.success,
}))

/** What the supervisor needs of a source. */
type Source = Readonly<{ state: string; error: Error | undefined; close: () => Promise<void> }>

/** One source: a file (`name` is its path) or a journal source (`name` is
 *  its key, `journal:<matches>`, and `journal` its matches). */
type Followed = {
  name: string
  journal: JournalMatch | null
  jails: WatchedJail[]
  follower: Source | null
  backoff: number
  restartAt: number
}

export class Watcher {
  readonly #opts: WatcherOptions
  readonly #offsets: OffsetStore
  readonly #followed: Followed[] = []
  #supervisor: NodeJS.Timeout | null = null
  #globber: NodeJS.Timeout | null = null
  #closed: Promise<void> | null = null
  /** Glob patterns and the jails that read the files they match. */
  readonly #patterns = new Map<string, WatchedJail[]>()
  readonly #unmatched = new Set<string>()

  constructor(opts: WatcherOptions) {
    this.#opts = opts
    this.#offsets = new OffsetStore(opts.offsetsFile, {
      onError: err => opts.logger.warn({ err }, 'watcher offsets: %s', err.message),
    })
    const byPath = new Map<string, WatchedJail[]>()
    const byMatch = new Map<string, { journal: JournalMatch; jails: WatchedJail[] }>()
    for (const jail of opts.jails) {
      if (jail.journal !== null) {
        const key = `journal:${formatMatch(jail.journal)}`
        const group = byMatch.get(key) ?? { journal: jail.journal, jails: [] }
        group.jails.push(jail)
        byMatch.set(key, group)
        continue
      }
      for (const path of jail.logpath) {
        const into = isGlob(path) ? this.#patterns : byPath
        into.set(path, [...(into.get(path) ?? []), jail])
      }
    }
    for (const [name, jails] of byPath) this.#followed.push(followed(name, null, jails))
    for (const [name, { journal, jails }] of byMatch) this.#followed.push(followed(name, journal, jails))
  }

  async start(): Promise<void> {
    await this.#offsets.load()
    for (const f of this.#followed) await this.#startOne(f)
    await this.#expandGlobs()
    // A source never retries by itself: this supervisor restarts a failed
    // follower, with backoff, and says why.
    this.#supervisor = setInterval(() => void this.#supervise(), 500)
    this.#supervisor.unref()
    if (this.#patterns.size > 0) {
      this.#globber = setInterval(() => void this.#expandGlobs(), this.#rescanEvery())
      this.#globber.unref()
    }
  }

  #rescanEvery(): Millis {
    return Math.max(1000, this.#opts.pollInterval * GLOB_RESCAN_POLLS)
  }

  /** Follows every file a logpath pattern matches that is not followed yet
   *  (a new file is read from its start, like a rotated-in one). */
  async #expandGlobs(): Promise<void> {
    for (const [pattern, jails] of this.#patterns) {
      if (this.#closed !== null) return
      let matches: string[]
      try {
        matches = await filesMatching(pattern)
      } catch (err) {
        this.#opts.logger.warn({ pattern, err: (err as Error).message }, 'logpath pattern %s: %s', pattern, (err as Error).message)
        continue
      }
      if (matches.length === 0 && !this.#unmatched.has(pattern)) {
        this.#unmatched.add(pattern)
        this.#opts.logger.info({ pattern }, 'no file matches %s yet; looking again every %ds', pattern, this.#rescanEvery() / 1000)
      }
      for (const path of matches) {
        if (this.#followed.some(f => f.name === path)) continue
        this.#unmatched.delete(pattern)
        const f = followed(path, null, jails)
        this.#followed.push(f)
        await this.#startOne(f)
      }
    }
  }

  async #startOne(f: Followed): Promise<void> {
    if (f.journal !== null) return this.#startJournal(f, f.journal)
    const { logger, now } = this.#opts
    const follower = new FileFollower({
      path: f.name,
      // A first start needs only the jails' horizon: bisect a large file on
      // its syslog times rather than read it all (other formats: from 0).
      seek: { since: now() - Math.max(...f.jails.map(j => j.horizon)), timeOf: line => parseSyslogTime(line, now())?.at ?? null },
      offsets: this.#offsets,
      maxLineBytes: this.#opts.maxLineBytes,
      pollInterval: this.#opts.pollInterval,
      onError: err => logger.warn({ path: f.name, err: err.message }, 'log source: %s', err.message),
      onLines: lines => this.#publish(f, lines),
    })
    f.follower = follower
    await follower.start()
    logger.info({ path: f.name, jails: f.jails.map(j => j.name) }, 'watching %s', f.name)
  }

  /** journalctl for the jails of `f`; without a stored cursor it reads
   *  back as far as the longest horizon of those jails. */
  async #startJournal(f: Followed, journal: JournalMatch): Promise<void> {
    const { logger, now } = this.#opts
    const follower = new JournalFollower({
      key: f.name,
      matches: journal,
      offsets: this.#offsets,
      maxLineBytes: this.#opts.maxLineBytes,
      since: now() - Math.max(...f.jails.map(j => j.horizon)),
      onNotice: (level, message, detail) => logger[level]({ source: f.name, ...detail }, message),
      onLines: lines => this.#publish(f, lines),
    })
    f.follower = follower
    await follower.start()
    logger.info({ source: f.name, jails: f.jails.map(j => j.name) }, 'watching the journal (%s)', formatMatch(journal))
  }

  async #publish(f: Followed, lines: readonly (LogLine | JournalLine)[]): Promise<void> {
    const { logger, bus, host, now } = this.#opts
    for (const line of lines) {
      if (line.truncated === true) {
        logger.debug({ ...where(f), ...('offset' in line ? { offset: line.offset } : {}), untrusted: line.text.slice(0, UNTRUSTED_MAX) }, 'overlong line cut')
      }
    }
    const events = eventsOfLines(lines, f.jails, host, now())
    if (events.length > 0) await bus.publishInputs(events)
    f.backoff = MIN_BACKOFF
  }

  async #supervise(): Promise<void> {
    for (const f of this.#followed) {
      if (this.#closed !== null) return
      const follower = f.follower
      if (follower !== null && follower.state === 'failed') {
        this.#opts.logger.error({ ...where(f), err: follower.error?.message, retryInMs: f.backoff },
          'log source %s stopped: %s; restarting in %ds', f.name, follower.error?.message, f.backoff / 1000)
        f.follower = null
        f.restartAt = Date.now() + f.backoff
        f.backoff = Math.min(f.backoff * 2, MAX_BACKOFF)
        await follower.close()
      } else if (follower === null && Date.now() >= f.restartAt) {
        await this.#startOne(f).catch(err => this.#opts.logger.error({ err }, 'cannot restart %s', f.name))
      }
    }
  }

  /** Stops reading, waits for in-flight publishes, flushes offsets. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      if (this.#supervisor !== null) clearInterval(this.#supervisor)
      if (this.#globber !== null) clearInterval(this.#globber)
      await Promise.all(this.#followed.map(f => f.follower?.close()))
      await this.#offsets.close()
    })()
    return this.#closed
  }
}

/** A file source's path, a journal source's key, for log lines. */
const where = (f: Followed): { path: string } | { source: string } => (f.journal === null ? { path: f.name } : { source: f.name })

function followed(name: string, journal: JournalMatch | null, jails: WatchedJail[]): Followed {
  return { name, journal, jails: forSource(jails), follower: null, backoff: MIN_BACKOFF, restartAt: 0 }
}
