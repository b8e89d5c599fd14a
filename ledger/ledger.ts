// The ledger: the single writer of the event log. Inputs are decided by the
// pure rules, appended with the projection rows they change in one synced
// LevelDB batch (group commit), and only then acknowledged and published as
// decisions. The current projection is kept in memory, loaded at open.
import { encodeEntry, encodeState } from '../proto/wire.js'
import { addressKey, type AddressKey } from './rules/addresses.js'
import type { RulesContext } from './rules/context.js'
import { decide, decideTick, type DueState } from './rules/decide.js'
import { pushDecisions } from './rules/decisions.js'
import { evolve } from './rules/evolve.js'
import { countStanding, nextDue, type JailStanding } from './rules/lifecycle.js'
import type { AddressState, Ban, Decision, DomainEvent, LedgerEntry, LedgerInput, Millis } from './rules/types.js'
import { DueIndex } from './store/due-index.js'
import { LedgerStore, splitStateKey, stateKey, type IdKey, type StateWrite } from './store/ledger-store.js'
import { ProjectionMap } from './store/projection-map.js'

export type SubmitResult = Readonly<{
  /** The entry this input was stored as (earlier, for a duplicate); 0 when it changed nothing and was not stored. */
  seq: number
  duplicate: boolean
  events: readonly DomainEvent[]
}>

export type ActiveBan = Readonly<{ jail: string; ip: string } & Ban>

/** Addresses whose expiry or forgetting one ledger entry holds at most (a
 *  tick with more due makes several entries): at most two events each, an
 *  entry of some 100 KiB. */
export const TICK_ADDRESSES = 1000

/** Called after each synced batch with what it appended. Must not throw. */
export type CommitListener = (
  entries: readonly LedgerEntry[], decisions: readonly Decision[],
  /** Each entry as stored (LedgerEntry protobuf), in the same order. */
  bytes: readonly Uint8Array[],
) => void

export type LedgerOptions = Readonly<{
  dir: string
  rules: RulesContext
  /** Most inputs per synced batch. */
  maxBatch?: number
  /** Create the ledger when `dir` has none (default true). */
  create?: boolean
}>

/** One submit() call: one promise, however many inputs it holds. */
type Call = {
  results: SubmitResult[]
  left: number
  resolve: (r: SubmitResult[]) => void
  reject: (e: unknown) => void
}
type Pending = { input: LedgerInput; call: Call; index: number }
/** A batch taken from the queue, the keys of its inputs' ids (one per
 *  input other than a tick, in batch order), and the lookup of the
 *  sequences they were stored under (issued when it was taken). */
type Taken = { batch: Pending[]; idKeys: IdKey[]; storedSeqs: Promise<(number | undefined)[]> }

/** One (jail, address) the ledger tracks, or that a batch not yet durable
 *  tracks anew: its durable state (null: none yet), the earliest time it
 *  has in the due index (Infinity: none), so that the heap holds about one
 *  entry per address, and the change of the latest batch not yet durable
 *  that changed it (null: none). A batch is decided against the rows
 *  themselves, the batch being written included: one lookup per address. */
type Tracked = { readonly jail: string; readonly ip: string; state: AddressState | null; dueAt: Millis; pending: Touched | null }

/** A row a batch changes, and its state after the batch (null: forgotten). */
type Touched = { readonly row: Tracked; state: AddressState | null; readonly batch: number }

/** A decided batch, waiting for (or in) its synced write. */
type Prepared = {
  batch: Pending[]
  results: SubmitResult[]
  /** Each as the store appends it (seq, bytes, id), with the entry. */
  entries: { entry: LedgerEntry; seq: number; bytes: Uint8Array; id: IdKey | null }[]
  /** Each address the batch changes, in the order first changed. */
  touched: Touched[]
  /** Due-index entries this batch's ticks took; put back after the write. */
  popped: Tracked[]
  ids: Map<string, number>
  /** The last sequence the batch assigns. */
  seq: number
}

/** The ledger failed to write and stopped accepting inputs; restart it. */
export class LedgerFailedError extends Error {
  readonly code = 'BANLEDGER_LEDGER_FAILED'
  override readonly name = 'LedgerFailedError'
}

export class Ledger {
  readonly #store: LedgerStore
  readonly #rules: RulesContext
  readonly #maxBatch: number
  readonly #rows = new ProjectionMap<Tracked>()
  readonly #bans = new Map<Tracked, ActiveBan>()
  readonly #due = new DueIndex<Tracked>()
  readonly #listeners = new Set<CommitListener>()
  readonly #failureListeners = new Set<(err: LedgerFailedError) => void>()
  /** Rows with a durable state (#rows also holds rows a batch not yet
   *  durable tracks anew). */
  #tracked = 0
  /** Batches prepared so far: each one's number marks its Touched records. */
  #batches = 0
  #seq = 0
  #queue: Pending[] = []
  #writing: Promise<void> | null = null
  /** The batch whose write is in flight: the next one is decided against it. */
  #inflight: Prepared | null = null
  #failed: LedgerFailedError | null = null
  #closed = false

  private constructor(store: LedgerStore, rules: RulesContext, maxBatch: number) {
    this.#store = store
    this.#rules = rules
    this.#maxBatch = maxBatch
  }

  /** Opens the ledger in `dir` and loads its projection. */
  static async open(opts: LedgerOptions): Promise<Ledger> {
    const store = await LedgerStore.open(opts.dir, { create: opts.create ?? true })
    const ledger = new Ledger(store, opts.rules, opts.maxBatch ?? 2000)
    try {
      ledger.#seq = await store.lastSeq()
      for await (const rows of store.states()) {
        for (const [key, state] of rows) {
          const { jail, ip } = splitStateKey(key)
          ledger.#add(jail, ip, state) // stored keys are unique
        }
      }
    } catch (err) {
      await store.close()
      throw err
    }
    return ledger
  }

  get seq(): number {
    return this.#seq
  }

  get store(): LedgerStore {
    return this.#store
  }

  /** Number of (jail, address) pairs with state. */
  get addresses(): number {
    return this.#tracked
  }

  state(jail: string, ip: string): AddressState | undefined {
    return this.#rows.get(jail, ip)?.state ?? undefined
  }

  /** Bans in force at `now` (expired ones not yet ticked are left out). */
  activeBans(now: Millis): ActiveBan[] {
    const out: ActiveBan[] = []
    for (const b of this.#bans.values()) if (b.until > now) out.push(b)
    return out
  }

  /** Each jail's tracked addresses by where they stand at `now`, in jail
   *  order (durable state only, as `addresses`). */
  standings(now: Millis): JailStanding[] {
    const byJail = new Map<string, JailStanding>()
    for (const row of this.#rows.values()) {
      if (row.state === null) continue
      let counts = byJail.get(row.jail)
      if (counts === undefined) {
        counts = { jail: row.jail, tracked: 0, banned: 0, failing: 0, grace: 0 }
        byJail.set(row.jail, counts)
      }
      countStanding(counts, row.state, this.#rules.policyFor(row.jail) ?? this.#rules.fallbackPolicy, now)
    }
    return [...byJail.values()].sort((a, b) => (a.jail < b.jail ? -1 : a.jail > b.jail ? 1 : 0))
  }

  /** When the next tick has something to do; undefined when nothing is due. */
  nextDueAt(): Millis | undefined {
    return this.#due.peek()
  }

  onCommit(listener: CommitListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Decides and durably appends `inputs`, in order. Resolves after the
   *  synced write, one result per input; rejects only when the ledger failed
   *  or is closed. */
  submit(inputs: readonly LedgerInput[]): Promise<SubmitResult[]> {
    if (this.#failed !== null) return Promise.reject(this.#failed)
    if (this.#closed) return Promise.reject(new LedgerFailedError('the ledger is closed'))
    if (inputs.length === 0) return Promise.resolve([])
    return new Promise<SubmitResult[]>((resolve, reject) => {
      const call: Call = { results: new Array<SubmitResult>(inputs.length), left: inputs.length, resolve, reject }
      inputs.forEach((input, index) => this.#queue.push({ input, call, index }))
      this.#kick()
    })
  }

  /** Appends the expiries and forgetting due at `now`. */
  async tick(now: Millis): Promise<SubmitResult> {
    const [r] = await this.submit([{ type: 'tick', at: now }])
    return r as SubmitResult
  }

  /** Waits for queued inputs, then closes the store. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    while (this.#writing !== null) await this.#writing
    await this.#store.close()
  }

  #kick(): void {
    if (this.#writing !== null) return
    this.#writing = this.#drain().finally(() => {
      this.#writing = null
      if (this.#queue.length > 0 && this.#failed === null) this.#kick()
    })
  }

  /** Group commit, in two stages: while batch N is being written and
   *  synced, batch N+1 is decided against N's not yet durable state. N+1 is
   *  written only once N is durable, so the log never holds N+1 without N. */
  async #drain(): Promise<void> {
    let writing: Promise<void> | null = null
    let next = this.#take()
    while (next !== null) {
      let prepared: Prepared | null = null
      try {
        prepared = await this.#prepare(next)
      } catch (err) {
        this.#fail(err, next.batch)
      }
      if (writing !== null) await writing
      if (prepared === null) break
      if (this.#failed !== null) {
        for (const p of next.batch) p.call.reject(this.#failed)
        break
      }
      // The next batch is taken, and its ids looked up, before this one's
      // write is put together: LevelDB reads them on another thread while
      // this one builds the batch, instead of the ledger thread waiting
      // for them (their lookup took a third of #prepare's time: 4-5 ms of
      // 11-12 ms a batch of 2,000, bench:ledger). Every earlier batch is
      // durable by now; this one's ids are looked up in memory (prev.ids).
      next = this.#take()
      writing = this.#write(prepared)
    }
    if (writing !== null) await writing
  }

  /** The next batch from the queue, with the stored sequences of its ids
   *  being looked up; null when there is nothing to do. */
  #take(): Taken | null {
    if (this.#queue.length === 0 || this.#failed !== null) return null
    const batch = this.#queue.splice(0, this.#maxBatch)
    const ids: string[] = []
    for (const p of batch) if (p.input.type !== 'tick') ids.push(p.input.id)
    const idKeys = this.#store.idKeys(ids)
    return { batch, idKeys, storedSeqs: this.#store.seqsOfKeys(idKeys) }
  }

  #fail(err: unknown, batch: readonly Pending[]): void {
    const first = this.#failed === null
    this.#failed ??= new LedgerFailedError(`ledger write failed: ${(err as Error).message}`, { cause: err })
    for (const p of [...batch, ...this.#queue.splice(0)]) p.call.reject(this.#failed)
    if (first) for (const l of this.#failureListeners) l(this.#failed)
  }

  /** Called once if a write fails: the ledger then refuses every input
   *  (its state on disk is intact, its memory may not be); restart it. */
  onFailure(listener: (err: LedgerFailedError) => void): void {
    this.#failureListeners.add(listener)
  }

  /** Decides a batch against the current state, including the batch still
   *  being written. Changes nothing durable: it records each change as the
   *  row's pending one (adding rows for addresses tracked anew), and hands
   *  over the due-index pops; #write makes them current. */
  async #prepare({ batch, idKeys, storedSeqs: lookup }: Taken): Promise<Prepared> {
    // Read before the lookup resolves: `prev` may become durable meanwhile,
    // and the lookup, issued before its write, does not see its ids.
    const prev = this.#inflight
    // Idempotency: an id stored earlier, in the batch being written, or
    // earlier in this batch, is a duplicate. The stored sequences of the
    // batch's ids come one per input other than a tick, in batch order, as
    // their keys do.
    const storedSeqs = await lookup
    let idAt = 0

    const batchNo = ++this.#batches
    const touched: Touched[] = []
    // The address looked up last, its row (undefined: none) and its state:
    // an input's events are evolved from the state its rules just read, and
    // a lookup in the rows of every tracked address is a cache miss. Kept
    // current by `evolveInto`.
    let lastJail: string | null = null
    let lastIp = ''
    let lastKey: AddressKey = 0
    let lastRow: Tracked | undefined
    let last: AddressState | undefined
    const view = (jail: string, ip: string): AddressState | undefined => {
      if (ip === lastIp && jail === lastJail) return last
      lastJail = jail
      lastIp = ip
      lastKey = addressKey(ip)
      lastRow = this.#rows.getAt(jail, lastKey)
      last = lastRow === undefined ? undefined : ((lastRow.pending === null ? lastRow.state : lastRow.pending.state) ?? undefined)
      return last
    }
    const evolveInto = (e: DomainEvent): void => {
      const next = evolve(view(e.jail, e.ip), e) ?? null
      // view(e.jail, e.ip) was the last lookup
      last = next ?? undefined
      let row = lastRow
      if (row === undefined) {
        if (next === null) return // nothing stored, nothing to store
        row = { jail: e.jail, ip: e.ip, state: null, dueAt: Infinity, pending: null }
        this.#rows.setAt(e.jail, lastKey, row)
        lastRow = row
      }
      const pending = row.pending
      if (pending !== null && pending.batch === batchNo) {
        pending.state = next
      } else {
        row.pending = { row, state: next, batch: batchNo }
        touched.push(row.pending)
      }
    }
    const popped: Tracked[] = []
    const entries: Prepared['entries'] = []
    const results: SubmitResult[] = []
    const batchIds = new Map<string, number>()
    let seq = prev?.seq ?? this.#seq

    /** Evolves the state by `events` and appends them as the next entry,
     *  with the input's id and its key (both null for a tick). */
    const append = (input: LedgerInput, events: DomainEvent[], id: string | null, key: IdKey | null): number => {
      for (const e of events) evolveInto(e)
      seq += 1
      const entry: LedgerEntry = { seq, at: input.at, cause: input, events }
      entries.push({ entry, seq, bytes: encodeEntry(entry), id: key })
      if (id !== null) batchIds.set(id, seq)
      return seq
    }

    for (const { input } of batch) {
      if (input.type === 'tick') {
        const rows = this.#due.popDue(input.at)
        for (const row of rows) row.dueAt = Infinity
        popped.push(...rows)
        // An address may have several entries (a stale one of a row since
        // forgotten and tracked anew): each is decided once.
        const seen = new Set<string>()
        const due: DueState[] = []
        for (const { jail, ip } of rows) {
          const key = stateKey(jail, ip)
          if (seen.has(key)) continue
          seen.add(key)
          const state = view(jail, ip)
          if (state !== undefined) due.push({ jail, ip, state })
        }
        // TICK_ADDRESSES an entry at most: addresses that fall due together
        // (a botnet's, findtime after its attack) would make an entry of
        // megabytes, more than one NATS message carries.
        const events: DomainEvent[] = []
        let last = 0
        for (let i = 0; i < due.length; i += TICK_ADDRESSES) {
          const part = decideTick(input.at, due.slice(i, i + TICK_ADDRESSES), this.#rules)
          if (part.length === 0) continue
          last = append(input, part, null, null)
          events.push(...part)
        }
        results.push({ seq: last, duplicate: false, events })
        continue
      }
      const id = input.id
      const key = idKeys[idAt] as IdKey
      const earlier = storedSeqs[idAt++] ?? prev?.ids.get(id) ?? batchIds.get(id)
      if (earlier !== undefined) {
        results.push({ seq: earlier, duplicate: true, events: [] })
        continue
      }
      const events = decide(input, view, this.#rules)
      results.push({ seq: events.length === 0 ? 0 : append(input, events, id, key), duplicate: false, events })
    }
    return { batch, results, entries, touched, popped, ids: batchIds, seq }
  }

  /** Makes a prepared batch durable, then current: acknowledges it and
   *  publishes its decisions. */
  async #write(p: Prepared): Promise<void> {
    this.#inflight = p
    try {
      if (p.entries.length > 0) {
        const states: StateWrite[] = []
        for (const { row, state } of p.touched) states.push({ jail: row.jail, ip: row.ip, state: state === null ? null : encodeState(state) })
        await this.#store.append({ entries: p.entries, states, lastSeq: p.seq })
      }
    } catch (err) {
      for (const row of p.popped) this.#requeue(row)
      this.#fail(err, p.batch)
      return
    } finally {
      if (this.#inflight === p) this.#inflight = null
    }

    this.#seq = p.seq
    for (const t of p.touched) this.#settle(t)
    if (p.popped.length > 0) {
      const changed = new Set(p.touched.map(t => t.row))
      for (const row of p.popped) if (!changed.has(row)) this.#requeue(row)
    }
    p.batch.forEach(({ call, index }, i) => {
      call.results[index] = p.results[i] as SubmitResult
      if (--call.left === 0) call.resolve(call.results)
    })

    if (p.entries.length > 0 && this.#listeners.size > 0) {
      const appended: LedgerEntry[] = []
      const bytes: Uint8Array[] = []
      const decisions: Decision[] = []
      for (const e of p.entries) {
        appended.push(e.entry)
        bytes.push(e.bytes)
        pushDecisions(e.entry, decisions)
      }
      for (const l of this.#listeners) l(appended, decisions, bytes)
    }
  }

  /** Makes a batch's change of a row durable state: the row is dropped
   *  when forgotten, unless a later batch, not yet durable, changed it too. */
  #settle(t: Touched): void {
    const { row, state } = t
    const latest = row.pending === t
    if (latest) row.pending = null
    const before = row.state
    const banned = before?.ban ?? null
    row.state = state
    if (state === null) {
      if (before !== null) this.#tracked--
      if (banned !== null) this.#bans.delete(row)
      if (latest) this.#rows.delete(row.jail, row.ip)
      return
    }
    if (before === null) this.#tracked++
    this.#schedule(row, state)
    if (state.ban === banned) return
    if (state.ban === null) this.#bans.delete(row)
    else this.#bans.set(row, { jail: row.jail, ip: row.ip, ...state.ban })
  }

  /** Tracks a stored row (at open). */
  #add(jail: string, ip: string, state: AddressState): void {
    const row: Tracked = { jail, ip, state, dueAt: Infinity, pending: null }
    this.#rows.set(jail, ip, row)
    this.#tracked++
    this.#schedule(row, state)
    if (state.ban !== null) this.#bans.set(row, { jail, ip, ...state.ban })
  }

  /** Schedules `row` again after a tick took it, unless it is gone since. */
  #requeue(row: Tracked): void {
    if (row.state !== null && this.#rows.get(row.jail, row.ip) === row) this.#schedule(row, row.state)
  }

  /** A row needs a heap entry only when it falls due earlier than the one it
   *  has: the earlier entry pops first and re-schedules from the state then. */
  #schedule(row: Tracked, state: AddressState): void {
    const due = nextDue(state, this.#rules.policyFor(row.jail) ?? this.#rules.fallbackPolicy)
    if (row.dueAt <= due) return
    row.dueAt = due
    this.#due.push(due, row)
  }
}
