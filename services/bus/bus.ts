// The bus port: watchers publish log events, the ledger consumes them and
// publishes decisions, workers subscribe to decisions. One interface, an
// adapter per transport: embedded (in-process, the one-host default) and
// NATS JetStream (a fleet; the bus issue).
import type { Decision, LogEvent } from '../../ledger/rules/types.js'
import { CodedError } from '../coded-error.js'

export interface Subscription {
  /** Stops delivery. Idempotent. */
  unsubscribe(): void
}

/** Consumes log events; resolves only once they are durably stored (the ack). */
export type EventsHandler = (events: readonly LogEvent[]) => Promise<void>

/** Must not throw; a worker logs its own failures. */
export type DecisionsHandler = (decisions: readonly Decision[]) => void | Promise<void>

export interface Bus {
  /** Resolves when the ledger acknowledged every event (stored, synced);
   *  rejects when it could not, and then nothing may be assumed stored. */
  publishEvents(events: readonly LogEvent[]): Promise<void>
  /** Registers the ledger. One consumer at a time. */
  consumeEvents(handler: EventsHandler): Subscription
  publishDecisions(decisions: readonly Decision[]): Promise<void>
  subscribeDecisions(handler: DecisionsHandler): Subscription
  /** Idempotent. Pending publishes reject. */
  close(): Promise<void>
}

/** A publish that found no consumer, or a closed bus. */
export class BusError extends CodedError<'BANLEDGER_BUS_NO_CONSUMER' | 'BANLEDGER_BUS_CLOSED'> {
  override readonly name = 'BusError'
}
