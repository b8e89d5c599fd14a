// The embedded bus: everything in one process, no server. A publish of
// events is acknowledged when the ledger's handler resolved, that is after
// its synced write, so a watcher's offset never passes an unstored line.
import type { Decision, LogEvent } from '../../ledger/rules/types.js'
import { BusError, type Bus, type DecisionsHandler, type EventsHandler, type Subscription } from './bus.js'

export type BusFaultReporter = (err: unknown, where: string) => void

export class EmbeddedBus implements Bus {
  #consumer: EventsHandler | null = null
  readonly #subscribers = new Set<DecisionsHandler>()
  readonly #onFault: BusFaultReporter
  #closed = false

  /** `onFault` hears of a decision subscriber that threw: it is reported, never propagated. */
  constructor(onFault: BusFaultReporter = () => {}) {
    this.#onFault = onFault
  }

  async publishEvents(events: readonly LogEvent[]): Promise<void> {
    if (this.#closed) throw new BusError('BANLEDGER_BUS_CLOSED', 'the bus is closed')
    const consumer = this.#consumer
    if (consumer === null) throw new BusError('BANLEDGER_BUS_NO_CONSUMER', 'no ledger is consuming events')
    if (events.length === 0) return
    await consumer(events)
  }

  consumeEvents(handler: EventsHandler): Subscription {
    if (this.#consumer !== null) throw new TypeError('the embedded bus has one events consumer')
    this.#consumer = handler
    return { unsubscribe: () => { if (this.#consumer === handler) this.#consumer = null } }
  }

  async publishDecisions(decisions: readonly Decision[]): Promise<void> {
    if (this.#closed || decisions.length === 0) return
    await Promise.all([...this.#subscribers].map(async s => {
      try {
        await s(decisions)
      } catch (err) {
        this.#onFault(err, 'decision subscriber')
      }
    }))
  }

  subscribeDecisions(handler: DecisionsHandler): Subscription {
    this.#subscribers.add(handler)
    return { unsubscribe: () => { this.#subscribers.delete(handler) } }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#consumer = null
    this.#subscribers.clear()
  }
}
