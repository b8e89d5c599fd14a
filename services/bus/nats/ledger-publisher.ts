// Publishes the ledger's committed entries to the ledger stream, and their
// decisions to the decisions stream, in ledger order, exactly once each.
//
// The ledger stream carries LedgerChunks: the consecutive entries of a
// publish go in messages within ledger-chunk.ts's CHUNK_MAX_* bounds (one
// message per entry cost nats-server about 7 us of CPU per
// event, and the ledger 3 more). So the stream sequence is not the ledger
// sequence: each message expects the stream's last sequence as counted
// here, as the decisions do in theirs, and the server refuses anything out
// of place. Decisions go out just before the chunk of their entries. So
// after a crash, a server restart or a lost connection, the streams
// themselves say where publishing stopped: the last ledger entry of the
// ledger stream's last message, and the last decision's id "<seq>.<i>"
// (the decisions stream holds a prefix of the decisions in order, so every
// decision before that one is out too).
// No Nats-Msg-Id on the ledger stream: the expected last sequence already
// refuses a message sent again (it no longer expects the stream's end),
// and a message id costs the server a duplicate-window entry per message.
// Publishing is pipelined (a batch in flight, acks awaited together; only
// the last message of each stream in a batch asks for one, as the chain of
// expected sequences makes it stand for those before it); a refusal or
// timeout means "look again at the streams and go on from there".
import type { JetStreamManager } from 'nats'
import type { Logger } from 'pino'
import { decisionsOf } from '../../../ledger/rules/decisions.js'
import { decodeDecision, encodeDecision } from '../../../proto/wire.js'
import { chunkRuns, encodeChunk } from '../../../proto/ledger-chunk.js'
import { BusError, type Committed, type LedgerFeed } from '../bus.js'
import { Backoff } from './backoff.js'
import type { BatchPublisher, Outgoing } from './batch-publish.js'
import { ledgerStreamEnd } from './ledger-messages.js'
import type { NatsNames } from './nats-names.js'

const BATCH = 5000
/** Entries kept from commits for publishing without reading the store back. */
const LIVE_MAX = 50_000

export type PublisherOptions = Readonly<{
  publisher: BatchPublisher
  jsm: JetStreamManager
  names: NatsNames
  feed: LedgerFeed
  logger: Logger
  /** The ledger stream holds entries this ledger does not: publishing stops. */
  onDiverged: (err: BusError) => void
  /** How long a batch waits for its acknowledgements (ms). */
  timeout: number
}>

export class LedgerPublisher {
  readonly #o: PublisherOptions
  /** The next ledger sequence to publish. */
  #next = 1
  /** The ledger stream's last sequence, as published from here. */
  #ledgerStreamSeq = 0
  /** The decisions stream's last sequence, as published from here. */
  #decisionsSeq = 0
  /** The decisions of entries before `#partial.seq`, and of that entry up
   *  to index `#partial.index`, are out already (from `#next` on). */
  #partial = { seq: 0, index: -1 }
  #live: Committed[] = []
  /** Ends the wait for a commit. */
  #wake: (() => void) | null = null
  readonly #backoff = new Backoff()
  #stopped = false
  #loop: Promise<void> | null = null
  #off: (() => void) | null = null

  constructor(opts: PublisherOptions) {
    this.#o = opts
  }

  /** Finds where the streams stand (throws BusError DIVERGED when the ledger
   *  stream is ahead of this ledger), then publishes in the background. */
  async start(): Promise<void> {
    this.#off = this.#o.feed.onCommit((entries, _decisions, bytes) => {
      // Behind by more than LIVE_MAX: the rest is read back from the store.
      if (this.#live.length + entries.length <= LIVE_MAX) {
        entries.forEach((entry, i) => this.#live.push({ entry, bytes: bytes[i] as Uint8Array }))
      }
      this.#wake?.()
    })
    await this.#recover()
    this.#loop = this.#run()
  }

  /** The ledger sequence published (stored in the stream) so far. */
  get published(): number {
    return this.#next - 1
  }

  async #recover(): Promise<void> {
    const { jsm, names, feed, logger } = this.#o
    const end = await ledgerStreamEnd(jsm, names.streams.ledger, names.ledger)
    if (end.ledgerSeq > feed.seq) {
      throw new BusError('BANLEDGER_BUS_DIVERGED',
        `the stream ${names.streams.ledger} holds ledger entries up to ${end.ledgerSeq}, this ledger only up to ${feed.seq}: ` +
        'it is not the ledger that wrote them (seed a new ledger with `banledger replay --from-bus`)')
    }
    this.#ledgerStreamSeq = end.streamSeq
    this.#next = end.ledgerSeq + 1
    if (end.messages === 0 && end.streamSeq > 0 && feed.seq > 0) {
      // Purged whole: where publishing stopped is lost with it. Publishing
      // everything again would send old decisions to the workers again.
      logger.warn({ nats: { stream: names.streams.ledger } }, 'the stream %s was emptied (purged): publishing resumes after ledger entry %d, ' +
        'the entries up to it are not in the stream', names.streams.ledger, feed.seq)
      this.#next = feed.seq + 1
    }
    const decisions = await jsm.streams.info(names.streams.decisions)
    this.#decisionsSeq = decisions.state.last_seq
    this.#partial = { seq: 0, index: -1 }
    if (decisions.state.messages > 0) {
      const d = decodeDecision((await jsm.streams.getMessage(names.streams.decisions, { seq: decisions.state.last_seq })).data)
      if (d.seq >= this.#next) this.#partial = { seq: d.seq, index: Number(d.id.split('.')[1]) }
    }
  }

  async #run(): Promise<void> {
    const { logger, feed } = this.#o
    const backoff = this.#backoff
    let lost = false
    while (!this.#stopped) {
      try {
        if (lost) await this.#recover()
        lost = false
        if (this.#next > feed.seq) {
          await new Promise<void>(resolve => { this.#wake = resolve })
          this.#wake = null
          continue
        }
        const entries = await this.#take()
        if (entries.length === 0) throw new Error(`ledger entry ${this.#next} cannot be read back`)
        await this.#publish(entries)
        backoff.reset()
      } catch (err) {
        if (this.#stopped) return
        if (err instanceof BusError && err.code === 'BANLEDGER_BUS_DIVERGED') {
          this.#o.onDiverged(err)
          return
        }
        lost = true
        logger.warn({ err: (err as Error).message, seq: this.#next }, 'publishing ledger entry %d failed (%s); again in %dms',
          this.#next, (err as Error).message, backoff.ms)
        await backoff.sleep()
      }
    }
  }

  /** The next entries, from the commits kept in memory or from the store. */
  async #take(): Promise<readonly Committed[]> {
    const live = this.#live
    let drop = 0
    while (drop < live.length && (live[drop] as Committed).entry.seq < this.#next) drop++
    if (drop > 0) live.splice(0, drop)
    if (live[0]?.entry.seq !== this.#next) return this.#o.feed.read(this.#next, BATCH)
    let n = 1
    while (n < live.length && n < BATCH && (live[n] as Committed).entry.seq === this.#next + n) n++
    return live.slice(0, n)
  }

  async #publish(entries: readonly Committed[]): Promise<void> {
    const { publisher, names } = this.#o
    const out: Outgoing[] = []
    let lastDecision = -1
    let streamSeq = this.#ledgerStreamSeq
    for (const run of chunkRuns(entries, c => c.bytes)) {
      for (const { entry: e } of run) {
        decisionsOf(e).forEach((d, i) => {
          if (e.seq < this.#partial.seq || (e.seq === this.#partial.seq && i <= this.#partial.index)) return
          lastDecision = out.length
          out.push({ subject: names.decisions(d.jail), data: encodeDecision(d), msgID: d.id, lastSequence: this.#decisionsSeq, ack: false })
          this.#decisionsSeq++
        })
      }
      out.push({ subject: names.ledger, data: encodeChunk(run.map(c => c.bytes)), lastSequence: streamSeq++, ack: false })
    }
    // Each message expects the one before it in its stream as the stream's
    // last, so the last of each stream is stored only if all before it
    // were: only those two are acknowledged. A pub ack is most of what a
    // stored message costs nats-server (measured 5.4 us of server CPU per
    // message acknowledged each, 1.3 us acknowledged per batch).
    for (const i of [lastDecision, out.length - 1]) if (i !== -1) out[i] = { ...(out[i] as Outgoing), ack: true }
    await publisher.publish(out, this.#o.timeout)
    this.#ledgerStreamSeq = streamSeq
    this.#next = (entries[entries.length - 1] as Committed).entry.seq + 1
    this.#partial = { seq: 0, index: -1 }
  }

  /** Stops after the batch in flight. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#off?.()
    this.#wake?.()
    this.#backoff.cut()
    await this.#loop
  }
}
