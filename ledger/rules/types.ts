// The ledger's domain: what comes in (inputs), what the rules decide
// (events, in the past tense), and the per-address state they fold into.
// Times are milliseconds since the Unix epoch, UTC, as plain numbers.

export type Millis = number

/** A failure or success seen in a log by a watcher. `id` is deterministic
 *  (host, file identity, byte offset), so a re-read line is the same event. */
export type LogEvent = Readonly<{
  type: 'log'
  kind: 'failure' | 'success'
  id: string
  jail: string
  ip: string
  at: Millis
  host: string
  source: string
  user?: string
  receivedAt?: Millis
}>

/** A ban, unban or pardon by hand, with who and why. */
export type OperatorCommand = Readonly<{
  type: 'operator'
  action: 'ban' | 'unban' | 'pardon'
  id: string
  jail: string
  ip: string
  at: Millis
  actor: string
  reason: string
  /** Ban length for `ban`; absent means the jail's bantime. */
  duration?: Millis
}>

/** A ban carried over from another tool (DenyHosts), with its original time. */
export type ImportedBan = Readonly<{
  type: 'import'
  id: string
  jail: string
  ip: string
  bannedAt: Millis
  at: Millis
  source: string
}>

/** The ledger noticed that time passed: bans may have expired and stale
 *  state may be forgotten. */
export type Tick = Readonly<{ type: 'tick'; at: Millis }>

export type LedgerInput = LogEvent | OperatorCommand | ImportedBan | Tick

/** What may reach the ledger from another process: everything but ticks
 *  (each ledger has its own clock). */
export type BusInput = LogEvent | OperatorCommand | ImportedBan

export type BanReason = 'maxretry' | 'operator' | 'import'
export type LiftReason = 'success' | 'operator'
export type FailureOutcome = 'counted' | 'absorbed' | 'while-banned' | 'ignored'

type Subject = { readonly jail: string; readonly ip: string; readonly at: Millis }

export type FailureRecorded = Subject & Readonly<{
  type: 'FailureRecorded'
  outcome: FailureOutcome
  host: string
  /** Counted failures at or before this time fall out of the window. */
  windowStart: Millis
}>
export type CounterCleared = Subject & Readonly<{ type: 'CounterCleared' }>
export type GraceOpened = Subject & Readonly<{ type: 'GraceOpened'; until: Millis }>
export type BanIssued = Subject & Readonly<{
  type: 'BanIssued'
  until: Millis
  reason: BanReason
  /** How many bans this address had in this jail before this one. */
  repeat: number
  failures: number
}>
export type BanLifted = Subject & Readonly<{ type: 'BanLifted'; reason: LiftReason }>
/** `at` is when the ban ended (its `until`), not when the ledger noticed. */
export type BanExpired = Subject & Readonly<{ type: 'BanExpired' }>
export type StateForgotten = Subject & Readonly<{ type: 'StateForgotten' }>
/** An operator command or import that changed nothing, and why. */
export type NoEffect = Subject & Readonly<{ type: 'NoEffect'; why: string }>

export type DomainEvent =
  | FailureRecorded
  | CounterCleared
  | GraceOpened
  | BanIssued
  | BanLifted
  | BanExpired
  | StateForgotten
  | NoEffect

export type Ban = Readonly<{ since: Millis; until: Millis; reason: BanReason; repeat: number }>

/** The projection row of one (jail, address). */
export type AddressState = Readonly<{
  /** Counted failures still in the window, ascending. */
  failures: readonly Millis[]
  /** End of the grace window; 0 when none was opened. */
  graceUntil: Millis
  /** Failures absorbed by the current grace window. */
  graceFailures: number
  ban: Ban | null
  /** Bans this address had in this jail (for repeat-offender lengths). */
  bans: number
  /** When the last ban ended (expired or lifted); 0 when none did. */
  lastBanEnd: Millis
}>

/** One appended record of the ledger: what came in and what it caused. */
export type LedgerEntry = Readonly<{
  seq: number
  /** The time the rules ran at: the event's time, or `now` for ticks. */
  at: Millis
  cause: LedgerInput
  events: readonly DomainEvent[]
}>

export type DecisionType = 'ban' | 'unban'
export type DecisionReason = 'maxretry' | 'expired' | 'success' | 'operator' | 'import'

/** What the workers act on: a ban or unban, with the ledger sequence that caused it. */
export type Decision = Readonly<{
  id: string
  type: DecisionType
  jail: string
  ip: string
  at: Millis
  /** End of the ban, for `ban`; 0 for `unban`. */
  until: Millis
  reason: DecisionReason
  seq: number
  failures: number
}>

export type BantimeIncrement = Readonly<{ factor: number; max: Millis }>

/** The knobs of one jail, as the rules read them. */
export type JailPolicy = Readonly<{
  maxretry: number
  findtime: Millis
  bantime: Millis
  grace: Millis
  graceMaxFailures: number
  successLiftsBan: boolean
  increment: BantimeIncrement | null
}>
