// Reads a JetStream durable pull consumer in batches, for as long as it
// runs: creates the consumer when it is missing, hands the messages that
// arrived together to `onBatch` (one call at a time, in order), and when the
// stream or the consumer goes away (server restart, not created yet) starts
// again with backoff. Acknowledging is `onBatch`'s job.
import type { ConsumerConfig, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from 'nats'
import type { Logger } from 'pino'
import { Backoff } from './backoff.js'

export type FollowerOptions = Readonly<{
  js: JetStreamClient
  jsm: JetStreamManager
  stream: string
  config: Partial<ConsumerConfig> & { durable_name: string }
  /** Most messages asked of the server at once. */
  maxMessages: number
  onBatch: (msgs: JsMsg[]) => Promise<void>
  logger: Logger
}>

export class DurableFollower {
  readonly #o: FollowerOptions
  #messages: ConsumerMessages | null = null
  #batch: JsMsg[] = []
  #scheduled = false
  #chain: Promise<void> = Promise.resolve()
  #stopped = false
  readonly #backoff = new Backoff()
  #loop: Promise<void> | null = null

  constructor(opts: FollowerOptions) {
    this.#o = opts
  }

  /** Resolves once the consumer is read (or, when the stream is missing
   *  yet, after the first attempt, retrying in the background). */
  start(): Promise<void> {
    let first!: () => void
    const started = new Promise<void>(resolve => { first = resolve })
    this.#loop = this.#run(first)
    return started
  }

  async #run(started: () => void): Promise<void> {
    const { js, stream, config, logger } = this.#o
    const backoff = this.#backoff
    while (!this.#stopped) {
      try {
        await this.#ensure()
        const consumer = await js.consumers.get(stream, config.durable_name)
        const messages = await consumer.consume({ max_messages: this.#o.maxMessages, callback: m => this.#take(m) })
        this.#messages = messages
        started()
        backoff.reset()
        const ended = messages.closed()
        void (async () => {
          for await (const s of await messages.status()) {
            if (s.type === 'consumer_not_found' || s.type === 'stream_not_found' || s.type === 'consumer_deleted') {
              logger.warn({ nats: { stream, consumer: config.durable_name, status: s.type } }, 'NATS %s for %s; starting again', s.type, config.durable_name)
              messages.stop()
            }
          }
        })().catch(() => {})
        await ended
        this.#messages = null
        if (this.#stopped) return
      } catch (err) {
        if (this.#stopped) return
        logger.warn({ nats: { stream, consumer: config.durable_name }, err: (err as Error).message },
          'cannot read %s from %s (%s); again in %dms', config.durable_name, stream, (err as Error).message, backoff.ms)
        started()
      }
      await backoff.sleep()
    }
  }

  /** Creates the consumer when it is missing. An existing one is given the
   *  config's max_ack_pending when it has another: the bound is in messages,
   *  and what a message holds changed (one event, then a batch of them). */
  async #ensure(): Promise<void> {
    const { jsm, stream, config, logger } = this.#o
    const name = config.durable_name
    let info
    try {
      info = await jsm.consumers.info(stream, name)
    } catch (err) {
      if (!/consumer not found/i.test((err as Error).message)) throw err
      await jsm.consumers.add(stream, config)
      logger.info({ nats: { stream, consumer: name } }, 'created the durable consumer %s on %s', name, stream)
      return
    }
    const want = config.max_ack_pending
    if (want !== undefined && info.config.max_ack_pending !== want) {
      await jsm.consumers.update(stream, name, { max_ack_pending: want })
      logger.info({ nats: { stream, consumer: name, max_ack_pending: want } }, 'the durable consumer %s now takes at most %d unacknowledged messages', name, want)
    }
  }

  #take(m: JsMsg): void {
    this.#batch.push(m)
    if (this.#scheduled) return
    this.#scheduled = true
    // Messages that arrived in the same read of the socket make one batch.
    setImmediate(() => {
      this.#scheduled = false
      const batch = this.#batch
      this.#batch = []
      if (batch.length === 0 || this.#stopped) return
      this.#chain = this.#chain.then(() => this.#o.onBatch(batch)).catch(err => {
        this.#o.logger.error({ err: (err as Error).message }, 'batch from %s failed: %s', this.#o.config.durable_name, (err as Error).message)
      })
    })
  }

  /** Stops reading; resolves when the batch in hand is done. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true
    this.#messages?.stop()
    this.#backoff.cut()
    await this.#loop
    await this.#chain
  }
}
