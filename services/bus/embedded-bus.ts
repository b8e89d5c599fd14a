// The embedded bus: everything in one process, no server. A publish of
// inputs is acknowledged when the ledger's handler resolved, that is after
// its synced write, so a watcher's offset never passes an unstored line.
// Decisions go to each group as they are committed; nothing outlives the
// process, which is fine: the workers start from a snapshot.
import type { Decision } from '../../ledger/rules/types.js'
import {
  BusError, type BanSnapshot, type Bus, type BusInput, type DecisionsHandler, type InputsHandler, type LedgerFeed, type Subscription,
} from './bus.js'

export type BusFaultReporter = (err: unknown, where: string) => void

type Group = { members: DecisionsHandler[]; next: number }

export class EmbeddedBus implements Bus {
  #consumer: InputsHandler | null = null
  #snapshots: (() => BanSnapshot) | null = null
  readonly #groups = new Map<string, Group>()
  readonly #onFault: BusFaultReporter
  #closed = false

  /** `onFault` hears of a decision subscriber that threw: it is reported, never propagated. */
  constructor(onFault: BusFaultReporter = () => {}) {
    this.#onFault = onFault
  }

  async publishInputs(inputs: readonly BusInput[]): Promise<void> {
    if (this.#closed) throw new BusError('BANLEDGER_BUS_CLOSED', 'the bus is closed')
    const consumer = this.#consumer
    if (consumer === null) throw new BusError('BANLEDGER_BUS_NO_CONSUMER', 'no ledger is consuming events')
    if (inputs.length === 0) return
    await consumer(inputs)
  }

  async consumeInputs(handler: InputsHandler): Promise<Subscription> {
    if (this.#consumer !== null) throw new TypeError('the embedded bus has one inputs consumer')
    this.#consumer = handler
    return { unsubscribe: async () => { if (this.#consumer === handler) this.#consumer = null } }
  }

  async publishLedger(feed: LedgerFeed): Promise<Subscription> {
    const off = feed.onCommit((_entries, decisions) => { void this.#deliver(decisions) })
    return { unsubscribe: async () => off() }
  }

  async serveSnapshots(take: () => BanSnapshot): Promise<Subscription> {
    this.#snapshots = take
    return { unsubscribe: async () => { if (this.#snapshots === take) this.#snapshots = null } }
  }

  async snapshot(): Promise<BanSnapshot> {
    if (this.#closed) throw new BusError('BANLEDGER_BUS_CLOSED', 'the bus is closed')
    if (this.#snapshots === null) throw new BusError('BANLEDGER_BUS_NO_LEDGER', 'no ledger serves snapshots')
    return this.#snapshots()
  }

  async subscribeDecisions(group: string, handler: DecisionsHandler): Promise<Subscription> {
    let g = this.#groups.get(group)
    if (g === undefined) this.#groups.set(group, g = { members: [], next: 0 })
    const members = g.members
    members.push(handler)
    return {
      unsubscribe: async () => {
        const i = members.indexOf(handler)
        if (i >= 0) members.splice(i, 1)
      },
    }
  }

  async #deliver(decisions: readonly Decision[]): Promise<void> {
    if (this.#closed || decisions.length === 0) return
    await Promise.all([...this.#groups.values()].map(async g => {
      if (g.members.length === 0) return
      const handler = g.members[g.next++ % g.members.length]
      try {
        await handler?.(decisions)
      } catch (err) {
        this.#onFault(err, 'decision subscriber')
      }
    }))
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#consumer = null
    this.#snapshots = null
    this.#groups.clear()
  }
}
