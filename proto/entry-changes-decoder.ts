// A hand-written decoder of a stored LedgerEntry for replay: its sequence,
// its time, and for each event its jail, its address as a projection key
// and the change it makes (evolve.ts's EventChange), nothing else.
// protobufjs' reflective decoder plus the mapping in wire.ts cost about
// twice as much per entry, and an IPv4 address is read straight from its
// bytes into its key: no string is made for it (a string made from UTF-8
// is a call into the runtime: ~5% of replay, bench:ledger).
// It reads the field numbers of banledger.proto (LedgerEntry 1, 2, 4;
// DomainEvent's oneof 1-8 and their fields); test/unit/wire.test.ts checks
// that it agrees with decodeEntryEvents on every event type.
import protobuf from 'protobufjs'
import { dottedQuadAt, type AddressKey } from '../ledger/rules/addresses.js'
import type { EventChange } from '../ledger/rules/evolve.js'
import type { FailureOutcome, LiftReason } from '../ledger/rules/types.js'
import { BAN_REASONS, int64, pick } from './field-readers.js'
import { asWireError, WireError } from './wire.js'

const OUTCOMES: readonly (FailureOutcome | undefined)[] = [undefined, 'counted', 'absorbed', 'while-banned', 'ignored']
const LIFT_REASONS: readonly (LiftReason | undefined)[] = [undefined, 'success', 'operator']

/** A string field whose text repeats from event to event (a jail): the
 *  last one decoded is reused while the bytes are the same, so replay
 *  decodes and allocates no string for it. */
class RepeatedString {
  #bytes = new Uint8Array(0)
  #text = ''

  read(r: protobuf.Reader): string {
    const at = r.pos
    const len = r.uint32()
    const start = r.pos
    const end = start + len
    const buf = r.buf
    const last = this.#bytes
    let same = end <= r.len && last.length === len
    for (let i = 0; same && i < len; i++) same = buf[start + i] === last[i]
    if (same) {
      r.pos = end
      return this.#text
    }
    // Decoded as protobufjs does (and it reports an overrun).
    r.pos = at
    this.#text = r.string()
    this.#bytes = buf.slice(start, end)
    return this.#text
  }
}

const jails = new RepeatedString()

/** An address field: a canonical IPv4 address as its key, read from the
 *  bytes; any other text decoded (as protobufjs does: it reports an overrun). */
function readAddress(r: protobuf.Reader): AddressKey {
  const at = r.pos
  const len = r.uint32()
  const start = r.pos
  const end = start + len
  const v4 = end <= r.len ? dottedQuadAt(r.buf, start, end) : null
  if (v4 !== null) {
    r.pos = end
    return v4 | 0
  }
  r.pos = at
  return r.string()
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }
type Change<T extends EventChange['type']> = Mutable<Extract<EventChange, { type: T }>>

/** Called for each event of an entry: `change` changes the state of
 *  (`jail`, `address`). The change is the decoder's own object, rewritten
 *  by the next event: read it, never keep it. */
export type ChangeVisitor = (jail: string, address: AddressKey, change: EventChange) => void

/** Reads entries one after another (replay's loop): read() reads an
 *  entry's sequence and time, forEachChange() then hands over its events,
 *  one at a time, each decoded into one object per event type that every
 *  event of that type reuses (replay allocates nothing per event but its
 *  state: fewer young collections, each of which copies the states being
 *  built, bench:ledger). */
export class EntryChangesReader {
  seq = 0
  at = 0
  #r: protobuf.Reader | null = null
  /** Where the last read() entry's fields start and end. */
  #start = 0
  #end = 0
  /** The subject of the event #readEvent read last. */
  #jail = ''
  #address: AddressKey = ''
  readonly #failure: Change<'FailureRecorded'> = { type: 'FailureRecorded', at: 0, outcome: 'counted', windowStart: 0 }
  readonly #cleared: Change<'CounterCleared'> = { type: 'CounterCleared', at: 0 }
  readonly #grace: Change<'GraceOpened'> = { type: 'GraceOpened', at: 0, until: 0 }
  readonly #ban: Change<'BanIssued'> = { type: 'BanIssued', at: 0, until: 0, reason: 'maxretry', repeat: 0 }
  readonly #lifted: Change<'BanLifted'> = { type: 'BanLifted', at: 0, reason: 'success' }
  readonly #expired: Change<'BanExpired'> = { type: 'BanExpired', at: 0 }
  readonly #forgotten: Change<'StateForgotten'> = { type: 'StateForgotten', at: 0 }
  readonly #noEffect: Change<'NoEffect'> = { type: 'NoEffect', at: 0 }

  /** Reads the sequence and time of the entry in bytes[start, end). */
  read(bytes: Uint8Array, start = 0, end = bytes.length): this {
    let r = this.#r
    if (r === null || r.buf !== bytes) r = this.#r = protobuf.Reader.create(bytes)
    r.pos = start
    r.len = end
    this.#start = start
    this.#end = end
    let seq = 0
    let at = 0
    try {
      while (r.pos < r.len) {
        const tag = r.uint32()
        if (tag === ((1 << 3) | 0)) seq = int64(r, 'seq', true)
        else if (tag === ((2 << 3) | 0)) at = int64(r, 'at')
        else r.skipType(tag & 7)
      }
    } catch (err) {
      throw asWireError('LedgerEntry', err)
    }
    this.seq = seq
    this.at = at
    return this
  }

  /** Calls `visit` for each event of the entry read last, in order. */
  forEachChange(visit: ChangeVisitor): void {
    const r = this.#r
    if (r === null) return
    r.pos = this.#start
    r.len = this.#end
    for (;;) {
      let change: EventChange | null
      try {
        change = this.#nextEvent(r)
      } catch (err) {
        throw asWireError('LedgerEntry', err)
      }
      if (change === null) return
      visit(this.#jail, this.#address, change)
    }
  }

  /** The entry's next event from r.pos on; null after the last. */
  #nextEvent(r: protobuf.Reader): EventChange | null {
    while (r.pos < r.len) {
      const tag = r.uint32()
      if (tag === ((4 << 3) | 2)) return this.#readEvent(r, r.uint32() + r.pos)
      r.skipType(tag & 7)
    }
    return null
  }

  /** One DomainEvent message (the oneof wrapper) ending at `end`: its
   *  change, its jail and address into #jail and #address. */
  #readEvent(r: protobuf.Reader, end: number): EventChange {
    let kind = 0
    let jail = ''
    let address: AddressKey = ''
    let at = 0
    let f4 = 0
    let f5 = 0
    let f6 = 0
    while (r.pos < end) {
      const tag = r.uint32()
      kind = tag >>> 3
      if ((tag & 7) !== 2 || kind < 1 || kind > 8) throw new WireError(`DomainEvent: unknown event field ${kind}`)
      const inner = r.uint32() + r.pos
      while (r.pos < inner) {
        const t = r.uint32()
        switch (t) {
          case (1 << 3) | 2: jail = jails.read(r); break
          case (2 << 3) | 2: address = readAddress(r); break
          case (3 << 3) | 0: at = int64(r, 'at'); break
          case (4 << 3) | 0: f4 = int64(r, 'field 4'); break
          case (5 << 3) | 0: f5 = r.uint32(); break
          case (6 << 3) | 0: f6 = int64(r, 'field 6'); break
          // host (5), why (4) and failures (7) change no state
          default: r.skipType(t & 7)
        }
      }
    }
    this.#jail = jail
    this.#address = address
    switch (kind) {
      case 1: {
        const c = this.#failure
        c.at = at
        c.outcome = pick(OUTCOMES, f4, 'FailureOutcome')
        c.windowStart = f6
        return c
      }
      case 2: return set(this.#cleared, at)
      case 3: {
        const c = this.#grace
        c.at = at
        c.until = f4
        return c
      }
      case 4: {
        const c = this.#ban
        c.at = at
        c.until = f4
        c.reason = pick(BAN_REASONS, f5, 'BanReason')
        c.repeat = f6
        return c
      }
      case 5: {
        const c = this.#lifted
        c.at = at
        c.reason = pick(LIFT_REASONS, f4, 'LiftReason')
        return c
      }
      case 6: return set(this.#expired, at)
      case 7: return set(this.#forgotten, at)
      case 8: return set(this.#noEffect, at)
      default: throw new WireError('DomainEvent: no event set')
    }
  }
}

const set = <C extends { at: number }>(change: C, at: number): C => {
  change.at = at
  return change
}
