// The notifier worker: decisions go into the durable outbox first, then one
// independent delivery loop per channel drains it. Contracts:
// - onDecisions resolves once the entries are stored (synced), never waiting
//   for a delivery; a slow, failing or disabled channel delays no other.
// - An entry is marked sent only after its channel confirmed. Before each
//   message the outbox records which entries it holds and its idempotency
//   key, so a crash between the send and the mark re-sends at most that one
//   message per channel, as the same message with the same key.
// - A channel delivers in creation order: a message never overtakes one that
//   waits for a retry.
// - `retry`: the message's entries wait (backoff from attempts, or the
//   channel's `after` if longer) and are never dropped; with a digest window
//   they fold, with what arrived meanwhile, into the next digest.
//   `disabled`: no more attempts on that channel until a restart (its entries
//   stay pending). `failed`: the entries are kept as failed and logged.
// - Only decisions handed to onDecisions are ever enqueued: the bans a
//   restart restores are not notified again.
import type { Logger } from 'pino'
import type { Decision, Millis } from '../../ledger/rules/types.js'
import type { Channel, ChannelKind, DeliveryResult } from './channel.js'
import { DIGEST_MAX, nextMessage, retryDelay, type Backoff } from './digest.js'
import type { Outbox, OutboxEntry } from './outbox.js'

export type NotifierWorkerOptions = Readonly<{
  outbox: Outbox
  channels: readonly Channel[]
  /** The names of the channels that want `d` (names not in `channels` are ignored). */
  route: (d: Decision) => readonly string[]
  /** 0: one message per decision; else gather a channel's notices for this long into one digest. */
  digestWindow: Millis
  /** Retry policy: one for all channels, or per channel name. */
  backoff: Backoff | ((channel: string) => Backoff)
  logger: Logger
  now: () => Millis
  /** This host's name, for the message text. */
  host: string
  /** close() gives up waiting for deliveries in flight after this long. Default 5,000. */
  closeTimeout?: Millis
}>

export type ChannelStatus = Readonly<{
  name: string
  kind: ChannelKind
  pending: number
  failed: number
  oldestPendingAge: Millis | null
  /** Why the channel stopped trying (until a restart); null when it works. */
  disabled: string | null
}>

/** onDecisions was called after close(). */
export class NotifierClosedError extends Error {
  readonly code = 'BANLEDGER_NOTIFIER_CLOSED'
  override readonly name = 'NotifierClosedError'
}

/** One channel's delivery loop: one message in flight at a time. */
class Lane {
  disabled: string | null = null
  #running: Promise<void> | null = null
  #again = false
  #timer: NodeJS.Timeout | null = null
  #wakeAt = Infinity
  #stopped = false

  constructor(readonly channel: Channel, readonly o: NotifierWorkerOptions) {}

  #backoff(): Backoff {
    const b = this.o.backoff
    return typeof b === 'function' ? b(this.channel.name) : b
  }

  /** Looks for due entries now (a run in progress looks again when done). */
  kick(): void {
    if (this.#stopped || this.disabled !== null) return
    if (this.#running !== null) {
      this.#again = true
      return
    }
    this.#running = this.#run()
      .catch(err => {
        if (this.#stopped) return
        this.o.logger.error({ notifier: { channel: this.channel.name }, err: (err as Error).message },
          'notifier %s: outbox error: %s', this.channel.name, (err as Error).message)
        this.#wake(this.o.now() + this.#backoff().initial)
      })
      .finally(() => {
        this.#running = null
        if (this.#again) {
          this.#again = false
          this.kick()
        }
      })
  }

  async #run(): Promise<void> {
    const { outbox, now } = this.o
    const name = this.channel.name
    while (!this.#stopped && this.disabled === null) {
      this.#again = false
      const t = now()
      const due = await outbox.due(name, t, DIGEST_MAX)
      if (due.length === 0) {
        const at = await outbox.nextAttemptAt(name)
        if (at !== null) this.#wake(at)
        return
      }
      for (let i = 0; i < due.length && !this.#stopped && this.disabled === null;) {
        const next = nextMessage(due.slice(i), this.o.digestWindow, now())
        if ('waitUntil' in next) {
          this.#wake(next.waitUntil)
          return
        }
        if (!(await this.#deliver(next.send, next.key))) return
        i += next.send.length
      }
    }
  }

  /** Sends one message; false when the channel should not be tried again now. */
  async #deliver(entries: readonly OutboxEntry[], key: string): Promise<boolean> {
    const { outbox, now, logger, host } = this.o
    const name = this.channel.name
    const ids = entries.map(e => e.id)
    // Recorded before the send: after a crash, the same message, the same key.
    // Synced for digests; without a digest window a message is one entry,
    // keyed by its id, so only a crash of the process needs the record
    // (which a digest window turned on during that restart would honour).
    await outbox.markAttempt(ids, key, now(), this.o.digestWindow > 0)
    const result: DeliveryResult = await this.channel.deliver(entries.map(e => ({ decision: e.decision, host })), { idempotencyKey: key })
      // The port says "never rejects"; a channel that does is retried. Its
      // message is not logged: it is not redacted and may hold a secret (S4).
      .catch((err: unknown) => ({ status: 'retry', after: 0, reason: `the channel threw ${(err as Error)?.name ?? 'an error'}` }))
    const log = { notifier: { channel: name, key, notices: ids.length } }
    switch (result.status) {
      case 'sent':
        await outbox.markSent(ids)
        logger.debug(log, 'notifier %s: sent %d notice(s)', name, ids.length)
        return true
      case 'retry': {
        const attempts = Math.max(...entries.map(e => e.attempts + 1))
        const at = now() + retryDelay(attempts, this.#backoff(), result.after)
        await outbox.reschedule(ids, at, result.reason)
        logger.warn({ ...log, reason: clip(result.reason), attempts }, 'notifier %s: will retry in %d ms: %s', name, at - now(), clip(result.reason))
        this.#wake(at)
        return false
      }
      case 'disabled':
        this.disabled = result.reason
        logger.error({ ...log, reason: clip(result.reason) },
          'notifier %s: channel disabled until a restart with a changed configuration (%s); its notices stay in the outbox',
          name, clip(result.reason))
        return false
      case 'failed':
        await outbox.markFailed(ids, result.reason)
        logger.error({ ...log, reason: clip(result.reason) }, 'notifier %s: %d notice(s) cannot be delivered: %s', name, ids.length, clip(result.reason))
        return true
      default: {
        const never: never = result
        throw new TypeError(`unknown delivery result ${JSON.stringify(never)}`)
      }
    }
  }

  /** Runs the loop again at `at` (the earliest of the requested wake-ups). */
  #wake(at: Millis): void {
    if (this.#stopped || at >= this.#wakeAt) return
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#wakeAt = at
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#wakeAt = Infinity
      this.kick()
    }, Math.max(0, at - this.o.now()))
    this.#timer.unref()
  }

  /** Stops looking for work; resolves when the message in flight (if any) is settled. */
  stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    return this.#running ?? Promise.resolve()
  }
}

export class NotifierWorker {
  readonly #o: NotifierWorkerOptions
  readonly #lanes = new Map<string, Lane>()
  #closed: Promise<void> | null = null

  constructor(opts: NotifierWorkerOptions) {
    this.#o = opts
    for (const c of opts.channels) {
      if (this.#lanes.has(c.name)) throw new TypeError(`two notifier channels are named ${c.name}`)
      this.#lanes.set(c.name, new Lane(c, opts))
    }
  }

  /** Starts the delivery loops: what the outbox holds from before goes first. */
  start(): void {
    for (const lane of this.#lanes.values()) lane.kick()
  }

  /** Stores the decisions' notices (synced), then wakes the channels that got
   *  some; resolves after the write, not after any delivery. */
  async onDecisions(decisions: readonly Decision[]): Promise<void> {
    if (this.#closed !== null) throw new NotifierClosedError('the notifier is closed')
    if (decisions.length === 0) return
    const touched = new Set<Lane>()
    const channelsFor = (d: Decision): string[] => {
      const names: string[] = []
      for (const name of this.#o.route(d)) {
        const lane = this.#lanes.get(name)
        if (lane === undefined) continue
        touched.add(lane)
        names.push(name)
      }
      return names
    }
    await this.#o.outbox.enqueue(decisions, channelsFor, this.#o.now())
    for (const lane of touched) lane.kick()
  }

  /** Per configured channel: what waits, what failed, and whether it gave up. */
  async status(): Promise<ChannelStatus[]> {
    const stats = await this.#o.outbox.stats(this.#o.now())
    return [...this.#lanes.values()].map(({ channel, disabled }) => {
      const s = stats.get(channel.name)
      return {
        name: channel.name, kind: channel.kind, pending: s?.pending ?? 0, failed: s?.failed ?? 0,
        oldestPendingAge: s?.oldestPendingAge ?? null, disabled,
      }
    })
  }

  /** Stops the loops and waits for the messages in flight, at most
   *  closeTimeout; what is not confirmed by then stays pending and goes
   *  again after a restart. Closes neither the outbox nor the channels (their
   *  owner does, after this). Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const inFlight = Promise.all([...this.#lanes.values()].map(l => l.stop()))
      let timer: NodeJS.Timeout | undefined
      const gaveUp = new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(true), this.#o.closeTimeout ?? 5000) })
      const late = await Promise.race([inFlight.then(() => false), gaveUp])
      clearTimeout(timer)
      if (late) this.#o.logger.warn('notifier: closing with deliveries still in flight; they stay in the outbox')
    })()
    return this.#closed
  }
}

/** Channel reasons are redacted by the channel; this only bounds their length in logs. */
const clip = (s: string): string => (s.length > 200 ? `${s.slice(0, 200)}…` : s)
