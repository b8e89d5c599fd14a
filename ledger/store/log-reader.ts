// Reading the log back: replay (rebuild every projection from the log
// alone), verify (replay equals the stored projection), time travel ("as
// of" a past time) and explain (the entries that touched one address).
import { Buffer } from 'node:buffer'
import { EntryChangesReader, type ChangeVisitor } from '../../proto/entry-changes-decoder.js'
import { forEachEntry } from '../../proto/ledger-chunk.js'
import { decodeEntry, encodeState } from '../../proto/wire.js'
import { applyEvent, copyState, type MutableState } from '../rules/evolve.js'
import { EMPTY_STATE, isEmptyState } from '../rules/lifecycle.js'
import type { AddressState, BanReason, LedgerEntry, Millis } from '../rules/types.js'
import { splitStateKey, type LedgerStore } from './ledger-store.js'
import { ProjectionMap } from './projection-map.js'

export type ReplayProgress = (entries: number, lastSeq: number) => void

export type Replayed = Readonly<{
  states: ProjectionMap<AddressState>
  entries: number
  lastSeq: number
}>

/** Folds the log (entries whose time is at most `until`, when given) into
 *  fresh projections. Same fold as the live ledger's, without immer: the
 *  objects here are private to the replay. */
export async function replay(
  store: LedgerStore,
  opts: Readonly<{ until?: Millis; onProgress?: ReplayProgress }> = {},
): Promise<Replayed> {
  const states = new ProjectionMap<MutableState>()
  let entries = 0
  let lastSeq = 0
  const until = opts.until ?? Infinity
  const reader = new EntryChangesReader()
  const apply: ChangeVisitor = (jail, address, change) => {
    const s = states.upsertAt(jail, address, emptyState)
    applyEvent(s, change)
    if (isEmptyState(s)) states.deleteAt(jail, address)
  }
  for await (const values of store.logValues()) {
    for (const value of values) {
      forEachEntry(value, (start, end) => {
        reader.read(value, start, end)
        lastSeq = reader.seq
        if (reader.at > until) return
        reader.forEachChange(apply)
        entries++
      })
    }
    opts.onProgress?.(entries, lastSeq)
  }
  return { states, entries, lastSeq }
}

const emptyState = (): MutableState => copyState(EMPTY_STATE)

export type VerifyReport = Readonly<{
  entries: number
  addresses: number
  lastSeq: number
  /** At most 20 descriptions; empty when replay equals the stored projection. */
  mismatches: readonly string[]
  mismatchCount: number
}>

/** Replays the whole log and compares the result, row by row and byte for
 *  byte, with the stored projection. */
export async function verify(store: LedgerStore, onProgress?: ReplayProgress): Promise<VerifyReport> {
  const replayed = await replay(store, onProgress === undefined ? {} : { onProgress })
  const storedSeq = await store.lastSeq()
  const mismatches: string[] = []
  let count = 0
  const note = (m: string): void => {
    count++
    if (mismatches.length < 20) mismatches.push(m)
  }
  if (replayed.lastSeq !== storedSeq) note(`log ends at ${replayed.lastSeq} but the projection is at ${storedSeq}`)
  let matched = 0
  for await (const rows of store.rawStates(2000)) {
    for (const [key, bytes] of rows) {
      const mine = replayed.states.getKey(key)
      if (mine === undefined) {
        note(`${key}: stored, but replay has no state`)
        continue
      }
      matched++
      if (Buffer.compare(encodeState(mine), bytes) !== 0) note(`${key}: stored state differs from replay`)
    }
  }
  if (matched < replayed.states.size) {
    // Rows replay has that the store lacks: rare, so found with a second pass.
    const stored = new Set<string>()
    for await (const rows of store.rawStates(2000)) for (const [key] of rows) stored.add(key)
    for (const [key] of replayed.states) if (!stored.has(key)) note(`${key}: replay has state, none stored`)
  }
  return { entries: replayed.entries, addresses: replayed.states.size, lastSeq: replayed.lastSeq, mismatches, mismatchCount: count }
}

export type BanAsOf = Readonly<{ jail: string; ip: string; since: Millis; until: Millis; reason: BanReason }>

/** The bans in force at `at`, as the log knew them: every entry whose time
 *  is at most `at`, in ledger order. */
export async function bansAsOf(store: LedgerStore, at: Millis): Promise<BanAsOf[]> {
  const { states } = await replay(store, { until: at })
  const out: BanAsOf[] = []
  for (const [key, s] of states) {
    if (s.ban !== null && s.ban.since <= at && s.ban.until > at) {
      out.push({ ...splitStateKey(key), since: s.ban.since, until: s.ban.until, reason: s.ban.reason })
    }
  }
  return out
}

/** Every entry that concerns `ip` (canonical), in ledger order. */
export async function entriesFor(store: LedgerStore, ip: string): Promise<LedgerEntry[]> {
  const needle = Buffer.from(ip)
  const has = (bytes: Uint8Array, start = 0, end = bytes.length): boolean =>
    Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).indexOf(needle) !== -1
  const out: LedgerEntry[] = []
  for await (const values of store.logValues()) {
    for (const value of values) {
      // Cheap filters first: the address text must occur in the bytes.
      if (!has(value)) continue
      forEachEntry(value, (start, end) => {
        if (!has(value, start, end)) return
        const entry = decodeEntry(value.subarray(start, end))
        if (entry.events.some(e => e.ip === ip) || ('ip' in entry.cause && entry.cause.ip === ip)) out.push(entry)
      })
    }
  }
  return out
}

/** At most `limit` entries from `from` on, in ledger order (fewer does not mean the end). */
export async function entriesFrom(store: LedgerStore, from: number, limit: number): Promise<LedgerEntry[]> {
  return (await committedFrom(store, from, limit)).map(c => c.entry)
}

/** The same, each with its bytes as stored. */
export async function committedFrom(store: LedgerStore, from: number, limit: number): Promise<{ entry: LedgerEntry; bytes: Uint8Array }[]> {
  for await (const values of store.entries(Math.max(from, 1), limit)) return values.map(bytes => ({ entry: decodeEntry(bytes), bytes }))
  return []
}
