// The bus port: watchers (and operators) publish inputs, the ledger consumes
// them and publishes what it committed, workers follow the decisions from a
// snapshot of the ban projection. One interface, an adapter per transport:
// embedded (in-process, the one-host default) and NATS JetStream (a fleet).
// test/integration/bus-contract.test.ts runs the same suite on both.
import type { CommitListener } from '../../ledger/ledger.js'
import type { BanReason, BusInput, Decision, LedgerEntry, Millis } from '../../ledger/rules/types.js'
import { CodedError } from '../coded-error.js'

export interface Subscription {
  /** Stops delivery; resolves when no handler call is left running. Idempotent. */
  unsubscribe(): Promise<void>
}

export type { BusInput }

/** Consumes inputs; resolves only once they are durably stored: that is the
 *  acknowledgement. A rejection leaves them unacknowledged (redelivered). */
export type InputsHandler = (inputs: readonly BusInput[]) => Promise<void>

/** Resolves once the decisions are taken care of (the acknowledgement). */
export type DecisionsHandler = (decisions: readonly Decision[]) => void | Promise<void>

/** The ban projection as of ledger sequence `seq`: decisions with a larger
 *  sequence follow it, those at or below it are already in it. */
export type BanSnapshot = Readonly<{ seq: number; at: Millis; bans: readonly SnapshotBan[] }>
export type SnapshotBan = Readonly<{ jail: string; ip: string; since: Millis; until: Millis; reason: BanReason }>

/** A committed entry and its encoding as stored (LedgerEntry protobuf). */
export type Committed = Readonly<{ entry: LedgerEntry; bytes: Uint8Array }>

/** The ledger as the bus sees it when publishing what it committed. */
export interface LedgerFeed {
  /** The sequence of the last committed entry. */
  readonly seq: number
  /** Committed entries with `from <= seq`, ascending, at most `limit`
   *  (fewer does not mean the end). */
  read(from: number, limit: number): Promise<Committed[]>
  /** The ledger's own commit listener: entries, their decisions, and each
   *  entry's bytes as stored (in the same order). */
  onCommit(listener: CommitListener): () => void
}

export interface Bus {
  /** Resolves once every input is durably accepted: stored by the ledger
   *  (embedded) or by the stream (NATS). Rejects when that is not sure; the
   *  caller keeps them (a watcher does not move its offset) and retries. */
  publishInputs(inputs: readonly BusInput[]): Promise<void>
  /** Registers the ledger. One consumer per bus. */
  consumeInputs(handler: InputsHandler): Promise<Subscription>
  /** Publishes every committed entry and its decisions, in ledger order,
   *  from wherever the bus left off (after a crash too), then follows. */
  publishLedger(feed: LedgerFeed): Promise<Subscription>
  /** Answers snapshot requests with `take()`. */
  serveSnapshots(take: () => BanSnapshot): Promise<Subscription>
  /** The ledger's current ban projection. */
  snapshot(): Promise<BanSnapshot>
  /** Follows decisions as the durable consumer `group`: a group missing
   *  while decisions were made gets them when it comes back (NATS), and in
   *  a group each decision goes to one of its subscribers. */
  subscribeDecisions(group: string, handler: DecisionsHandler): Promise<Subscription>
  /** Idempotent. Pending publishes reject. */
  close(): Promise<void>
}

export type BusErrorCode =
  | 'BANLEDGER_BUS_NO_CONSUMER'
  | 'BANLEDGER_BUS_NO_LEDGER'
  | 'BANLEDGER_BUS_CLOSED'
  | 'BANLEDGER_BUS_PUBLISH'
  | 'BANLEDGER_BUS_DIVERGED'

/** A publish that found no consumer or failed, a closed bus, a ledger and a
 *  stream that do not hold the same history. */
export class BusError extends CodedError<BusErrorCode> {
  override readonly name = 'BusError'
}
