// The NATS JetStream bus: a fleet's watchers, ledger and workers in separate
// processes, on separate hosts (names and subjects: nats-names.ts).
//
// - Inputs: a watcher's publish resolves once the events stream stored every
//   message (its pub ack); the log events of one publish travel in batches,
//   one message per host and jail (event-batches.ts: message ids, and why a
//   re-read line is still stored once). The ledger reads the durable
//   consumer `ledger` and acknowledges each message only once the synced
//   write of all its inputs is done; what it never acknowledged comes again.
// - Each event is checked against its subject: an event claiming another
//   host than the one in its subject (which the server's permissions tie to
//   the watcher's credentials) is dropped with a logged reason; so is what
//   does not decode.
// - Committed entries and decisions: ledger-publisher.ts.
// - Snapshots: a core request; the ledger answers in chunks, then an empty
//   message.
// - Decisions: each group is a durable consumer, shared by the group's
//   processes; acknowledged once the handler resolved.
import {
  AckPolicy, DeliverPolicy, DiscardPolicy, Empty, nanos, RequestStrategy, RetentionPolicy, StorageType,
  type JetStreamClient, type JetStreamManager, type JsMsg, type NatsConnection, type StreamConfig,
} from 'nats'
import type { Logger } from 'pino'
import type { BusInput, Decision } from '../../../ledger/rules/types.js'
import { decodeLogEventBatchFast } from '../../../proto/log-event-batch-decoder.js'
import { decodeDecision, decodeInput, decodeSnapshot, encodeSnapshot } from '../../../proto/wire.js'
import type { NatsBusConfig } from '../bus-config.js'
import {
  BusError, type BanSnapshot, type Bus, type DecisionsHandler, type InputsHandler, type LedgerFeed, type Subscription,
} from '../bus.js'
import { BatchPublisher } from './batch-publish.js'
import { DurableFollower } from './durable-follower.js'
import { outgoingOf } from './event-batches.js'
import { LedgerPublisher } from './ledger-publisher.js'
import { consumerName, hostToken, inboxPrefix, natsNames, type NatsNames } from './nats-names.js'
import { RejectLog } from './reject-log.js'

/** Bans per snapshot message: well under NATS's 1 MiB default payload. */
const SNAPSHOT_CHUNK = 2000
/** How long a request waits for its answer, by default (ms): a watcher's
 *  publish for the events stream's acks, a snapshot for its last chunk,
 *  the ledger's publish for the ledger stream's acks. */
export const DEFAULT_TIMEOUTS: NatsTimeouts = { publish: 5000, snapshot: 10_000, ledgerPublish: 10_000 }
/** How long an unacknowledged input waits before it is delivered again. */
const LEDGER_ACK_WAIT = 10_000
const DECISIONS_ACK_WAIT = 30_000
/** Messages in flight between the stream and the ledger's synced write:
 *  up to 1,000 events each, so at most 100,000 inputs in the ledger
 *  process's memory (LEDGER_INPUTS_AHEAD of them decoded), about 2 s of its
 *  work at the rate measured here: far from
 *  LEDGER_ACK_WAIT, so a backlog is never delivered again while it waits in
 *  the ledger (500 full batches took ~9 s, close to it). Watchers that send
 *  an event at a time still give 100 inputs per synced write. */
const LEDGER_MAX_ACK_PENDING = 100
/** Inputs handed to the ledger and not yet stored, at most (one message
 *  more may pass it): enough for its group commit to decide one batch of
 *  2,000 while it writes the one before, with room to spare. The rest of
 *  what the consumer holds waits undecoded: 100,000 decoded inputs queued
 *  in the ledger outlived the young generation and were copied to the old
 *  one by the garbage collector. */
const LEDGER_INPUTS_AHEAD = 8000
/** Inputs per hand-over to the ledger (whole messages: one message more may pass it). */
const SUBMIT_INPUTS = 2000
const DUPLICATE_WINDOW = 120_000
/** Inputs a failed ledger could not store come back after this long (to the next ledger). */
const RETRY_AFTER_FAILURE = 1000

export type NatsTimeouts = Readonly<{ publish: number; snapshot: number; ledgerPublish: number }>

export type NatsBusOptions = Readonly<{
  nc: NatsConnection
  config: NatsBusConfig
  /** This host's name: operator commands go out on its commands subject. */
  host: string
  logger: Logger
  /** The ledger stream holds entries this ledger lacks: the ledger must stop. */
  onDiverged?: (err: BusError) => void
  /** Replaces some of DEFAULT_TIMEOUTS (tests on slow machines do). */
  timeouts?: Partial<NatsTimeouts>
}>

export class NatsBus implements Bus {
  readonly #nc: NatsConnection
  readonly #js: JetStreamClient
  readonly #jsm: Promise<JetStreamManager>
  readonly #names: NatsNames
  readonly #config: NatsBusConfig
  readonly #logger: Logger
  readonly #host: string
  readonly #onDiverged: (err: BusError) => void
  readonly #stops = new Set<() => Promise<void>>()
  readonly #publisher: BatchPublisher
  readonly #timeouts: NatsTimeouts
  #streamsReady: Promise<void> | null = null
  #closed = false

  constructor(opts: NatsBusOptions) {
    this.#nc = opts.nc
    this.#config = opts.config
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts }
    this.#js = opts.nc.jetstream({ timeout: this.#timeouts.publish })
    this.#jsm = opts.nc.jetstreamManager({ checkAPI: false })
    this.#names = natsNames(opts.config)
    this.#publisher = new BatchPublisher(opts.nc, inboxPrefix(opts.config, opts.host))
    this.#logger = opts.logger
    this.#host = opts.host
    this.#onDiverged = opts.onDiverged ?? (() => {})
  }

  async publishInputs(inputs: readonly BusInput[]): Promise<void> {
    if (this.#closed) throw new BusError('BANLEDGER_BUS_CLOSED', 'the bus is closed')
    try {
      await this.#publisher.publish(outgoingOf(inputs, this.#names, this.#host), this.#timeouts.publish)
    } catch (err) {
      throw new BusError('BANLEDGER_BUS_PUBLISH', `the events stream did not store every input: ${(err as Error).message}`, { cause: err })
    }
  }

  async consumeInputs(handler: InputsHandler): Promise<Subscription> {
    await this.#ensureStreams()
    const rejects = new RejectLog(this.#logger)
    let failed = false
    let acked: Promise<void> = Promise.resolve()
    /** Inputs handed to the ledger and not stored yet; `room` wakes the batch waiting for fewer. */
    let inLedger = 0
    let room: (() => void) | null = null
    const follower = new DurableFollower({
      js: this.#js, jsm: await this.#jsm, stream: this.#names.streams.events, logger: this.#logger, maxMessages: LEDGER_MAX_ACK_PENDING,
      config: {
        durable_name: 'ledger', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(LEDGER_ACK_WAIT), max_ack_pending: LEDGER_MAX_ACK_PENDING, max_deliver: -1,
      },
      onBatch: async msgs => {
        let i = 0
        while (i < msgs.length) {
          while (inLedger >= LEDGER_INPUTS_AHEAD && !failed) await new Promise<void>(resolve => { room = resolve })
          if (failed) {
            for (const m of msgs.slice(i)) m.nak(RETRY_AFTER_FAILURE)
            return
          }
          // Decoded only now: what waits for the ledger waits as the
          // messages' bytes, not as objects the GC must copy and promote.
          const group: JsMsg[] = []
          const inputs: BusInput[] = []
          while (i < msgs.length && inputs.length < SUBMIT_INPUTS) {
            const m = msgs[i++] as JsMsg
            group.push(m)
            this.#admit(m, rejects, inputs)
          }
          const n = inputs.length
          inLedger += n
          const release = (): void => {
            inLedger -= n
            const wake = room
            room = null
            wake?.()
          }
          // Not awaited: the ledger decides the next group while this one
          // syncs. Every message is acknowledged by itself: ack policy "all"
          // would also acknowledge deliveries lost on the way (a server
          // restart), which then never come again.
          const stored = n === 0 ? Promise.resolve() : handler(inputs)
          acked = acked.then(() => stored).then(() => {
            release()
            if (!failed) for (const m of group) m.ack()
          }, err => {
            // Nothing is acknowledged any more; the messages are handed
            // back for the next ledger.
            release()
            failed = true
            for (const m of group) m.nak(RETRY_AFTER_FAILURE)
            this.#logger.error({ err: (err as Error).message }, 'the ledger did not store inputs (%s): no more acknowledgements', (err as Error).message)
          })
        }
      },
    })
    return this.#track(follower, async () => { await acked })
  }

  /** Adds to `inputs` what `m` carries that may reach the ledger; logs the rest. */
  #admit(m: JsMsg, rejects: RejectLog, inputs: BusInput[]): void {
    // <prefix>.events.<host>.<jail> or <prefix>.commands.<host>
    const [, kind, host, jail] = m.subject.split('.')
    if (kind === 'events') {
      let events
      try {
        events = decodeLogEventBatchFast(m.data)
      } catch (err) {
        rejects.note(m.subject, `not a LogEventBatch: ${(err as Error).message}`)
        return
      }
      // The events of a batch come from one host: its token computed once.
      let claimed = ''
      let token = ''
      for (const e of events) {
        if (e.host !== claimed) {
          claimed = e.host
          token = hostToken(e.host)
        }
        if (token !== host) rejects.note(m.subject, `claims host ${JSON.stringify(e.host.slice(0, 64))} on the subject of ${host}`)
        else if (e.jail !== jail) rejects.note(m.subject, `claims jail ${JSON.stringify(e.jail.slice(0, 32))} on the subject of ${jail}`)
        else inputs.push(e)
      }
      return
    }
    let input
    try {
      input = decodeInput(m.data)
    } catch (err) {
      rejects.note(m.subject, `not a LedgerInput: ${(err as Error).message}`)
      return
    }
    if (input.type === 'operator' || input.type === 'import') inputs.push(input)
    else rejects.note(m.subject, `an input of type ${input.type} on a commands subject`)
  }

  async publishLedger(feed: LedgerFeed): Promise<Subscription> {
    await this.#ensureStreams()
    const publisher = new LedgerPublisher({
      publisher: this.#publisher, jsm: await this.#jsm, names: this.#names, feed, logger: this.#logger, onDiverged: this.#onDiverged,
      timeout: this.#timeouts.ledgerPublish,
    })
    return this.#track(publisher)
  }

  async serveSnapshots(take: () => BanSnapshot): Promise<Subscription> {
    const rejects = new RejectLog(this.#logger)
    const sub = this.#nc.subscribe(this.#names.snapshot, {
      queue: 'ledger',
      callback: (err, msg) => {
        if (err !== null) return
        // Replies go to inboxes only: a reply subject is not checked by the
        // server's permissions, and could name a stream's subject.
        if (msg.reply === undefined || !msg.reply.startsWith('_INBOX.')) {
          rejects.note(msg.subject, `a snapshot request with reply subject ${JSON.stringify((msg.reply ?? '').slice(0, 100))}, not an inbox`)
          return
        }
        const s = take()
        for (let i = 0; i === 0 || i < s.bans.length; i += SNAPSHOT_CHUNK) {
          msg.respond(encodeSnapshot({ seq: s.seq, at: s.at, bans: s.bans.slice(i, i + SNAPSHOT_CHUNK) }))
        }
        msg.respond(Empty)
      },
    })
    return this.#track({ stop: async () => { sub.unsubscribe() } })
  }

  async snapshot(): Promise<BanSnapshot> {
    if (this.#closed) throw new BusError('BANLEDGER_BUS_CLOSED', 'the bus is closed')
    let seq = -1
    let at = 0
    const bans: BanSnapshot['bans'][number][] = []
    try {
      const replies = await this.#nc.requestMany(this.#names.snapshot, Empty, { strategy: RequestStrategy.SentinelMsg, maxWait: this.#timeouts.snapshot })
      for await (const m of replies) {
        if (m.data.length === 0) break
        const chunk = decodeSnapshot(m.data)
        if (seq !== -1 && chunk.seq !== seq) throw new Error('snapshot chunks of two ledger sequences')
        seq = chunk.seq
        at = chunk.at
        bans.push(...chunk.bans)
      }
    } catch (err) {
      const why = (err as { code?: string }).code === '503' ? 'no responders' : (err as Error).message
      throw new BusError('BANLEDGER_BUS_NO_LEDGER', `no ledger answered a snapshot request (${why})`, { cause: err })
    }
    if (seq === -1) throw new BusError('BANLEDGER_BUS_NO_LEDGER', 'no ledger answered a snapshot request')
    return { seq, at, bans }
  }

  async subscribeDecisions(group: string, handler: DecisionsHandler): Promise<Subscription> {
    const rejects = new RejectLog(this.#logger)
    const follower = new DurableFollower({
      js: this.#js, jsm: await this.#jsm, stream: this.#names.streams.decisions, logger: this.#logger, maxMessages: 1000,
      config: {
        durable_name: consumerName(group), ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New,
        filter_subject: this.#names.decisionsAll, ack_wait: nanos(DECISIONS_ACK_WAIT), max_deliver: -1,
      },
      onBatch: async msgs => {
        const decisions: Decision[] = []
        const good: JsMsg[] = []
        for (const m of msgs) {
          try {
            decisions.push(decodeDecision(m.data))
            good.push(m)
          } catch (err) {
            rejects.note(m.subject, `not a Decision: ${(err as Error).message}`)
            m.term()
          }
        }
        if (decisions.length === 0) return
        try {
          await handler(decisions)
          for (const m of good) m.ack()
        } catch (err) {
          this.#logger.error({ err: (err as Error).message }, 'decisions for %s failed (%s); delivered again later', group, (err as Error).message)
          for (const m of good) m.nak(5000)
        }
      },
    })
    return this.#track(follower)
  }

  /** Creates the streams when missing (the ledger's job; workers only read). */
  #ensureStreams(): Promise<void> {
    this.#streamsReady ??= (async () => {
      const n = this.#names
      const c = this.#config
      const common: Partial<StreamConfig> = {
        retention: RetentionPolicy.Limits, storage: StorageType.File, discard: DiscardPolicy.Old,
        num_replicas: c.replicas, duplicate_window: nanos(DUPLICATE_WINDOW),
      }
      await this.#stream({ ...common, name: n.streams.events, subjects: [n.eventsAll, n.commandsAll], max_age: nanos(c.eventsMaxAge) })
      await this.#stream({ ...common, name: n.streams.ledger, subjects: [n.ledger], max_age: 0 })
      await this.#stream({ ...common, name: n.streams.decisions, subjects: [n.decisionsAll], max_age: nanos(c.decisionsMaxAge) })
    })().catch(err => {
      this.#streamsReady = null
      throw err
    })
    return this.#streamsReady
  }

  async #stream(config: Partial<StreamConfig> & { name: string }): Promise<void> {
    const jsm = await this.#jsm
    try {
      await jsm.streams.info(config.name)
    } catch (err) {
      if (!/stream not found/i.test((err as Error).message)) throw err
      await jsm.streams.add(config)
      this.#logger.info({ nats: { stream: config.name, subjects: config.subjects } }, 'created the stream %s', config.name)
    }
  }

  /** Starts `part` and remembers to stop it on close. */
  async #track(part: { start?: () => Promise<void>; stop: () => Promise<void> }, after: () => Promise<void> = async () => {}): Promise<Subscription> {
    await part.start?.()
    const stop = async () => {
      this.#stops.delete(stop)
      await part.stop()
      await after()
    }
    this.#stops.add(stop)
    let done: Promise<void> | null = null
    return { unsubscribe: () => (done ??= stop()) }
  }

  /** Stops every consumer and publisher, then drains the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([...this.#stops].map(s => s()))
    if (!this.#nc.isClosed()) await this.#nc.drain().catch(() => this.#nc.close())
  }
}
