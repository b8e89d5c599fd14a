// A hand-written decoder of a stored LedgerEntry's sequence, time and
// events, straight to domain events, for replay: protobufjs' reflective
// decoder plus the mapping in wire.ts cost about twice as much per entry.
// It reads the field numbers of banledger.proto (LedgerEntry 1, 2, 4;
// DomainEvent's oneof 1-8 and their fields); test/unit/wire.test.ts checks
// that it agrees with decodeEntryEvents on every event type.
import protobuf from 'protobufjs'
import type {
  BanReason, DomainEvent, FailureOutcome, LiftReason,
} from '../ledger/rules/types.js'
import { WireError } from './wire.js'

const OUTCOMES: readonly (FailureOutcome | undefined)[] = [undefined, 'counted', 'absorbed', 'while-banned', 'ignored']
const BAN_REASONS: readonly (BanReason | undefined)[] = [undefined, 'maxretry', 'operator', 'import']
const LIFT_REASONS: readonly (LiftReason | undefined)[] = [undefined, 'success', 'operator']

function safe(n: number, what: string): number {
  if (!Number.isSafeInteger(n)) throw new WireError(`${what}: not a safe integer`)
  return n
}

/** An int64/uint64 varint as a number. protobufjs builds a LongBits object
 *  per 64-bit read (a tenth of replay's decoding time); up to 8 bytes
 *  (values below 2^56: every time and count the ledger writes) are read
 *  here, longer ones (negative, or huge) by protobufjs as before. */
export function int64(r: protobuf.Reader, what: string, unsigned = false): number {
  const buf = r.buf
  const start = r.pos
  let value = 0
  let scale = 1
  for (let pos = start; pos < r.len && pos < start + 8; pos++) {
    const b = buf[pos] as number
    value += (b & 0x7f) * scale
    if (b < 0x80) {
      r.pos = pos + 1
      return safe(value, what)
    }
    scale *= 128
  }
  return safe((unsigned ? r.uint64() : r.int64()) as unknown as number, what)
}

function pick<T>(table: readonly (T | undefined)[], n: number, what: string): T {
  const v = table[n]
  if (v === undefined) throw new WireError(`${what}: unknown value ${n}`)
  return v
}

/** A string field whose text repeats from event to event (a jail, a host
 *  name): the last one decoded is reused while the bytes are the same, so
 *  replay decodes and allocates one string per event (the address), not
 *  three. */
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
const hosts = new RepeatedString()

/** One DomainEvent message (the oneof wrapper) ending at `end`. */
function readEvent(r: protobuf.Reader, end: number): DomainEvent {
  let kind = 0
  let jail = ''
  let ip = ''
  let at = 0
  let f4 = 0
  let f4s = ''
  let f5 = 0
  let f5s = ''
  let f6 = 0
  let f7 = 0
  while (r.pos < end) {
    const tag = r.uint32()
    kind = tag >>> 3
    if ((tag & 7) !== 2 || kind < 1 || kind > 8) throw new WireError(`DomainEvent: unknown event field ${kind}`)
    const inner = r.uint32() + r.pos
    while (r.pos < inner) {
      const t = r.uint32()
      switch (t) {
        case (1 << 3) | 2: jail = jails.read(r); break
        case (2 << 3) | 2: ip = r.string(); break
        case (3 << 3) | 0: at = int64(r, 'at'); break
        case (4 << 3) | 0: f4 = int64(r, 'field 4'); break
        case (4 << 3) | 2: f4s = r.string(); break
        case (5 << 3) | 0: f5 = r.uint32(); break
        case (5 << 3) | 2: f5s = hosts.read(r); break
        case (6 << 3) | 0: f6 = int64(r, 'field 6'); break
        case (7 << 3) | 0: f7 = r.uint32(); break
        default: r.skipType(t & 7)
      }
    }
  }
  switch (kind) {
    case 1: return { type: 'FailureRecorded', jail, ip, at, outcome: pick(OUTCOMES, f4, 'FailureOutcome'), host: f5s, windowStart: f6 }
    case 2: return { type: 'CounterCleared', jail, ip, at }
    case 3: return { type: 'GraceOpened', jail, ip, at, until: f4 }
    case 4: return { type: 'BanIssued', jail, ip, at, until: f4, reason: pick(BAN_REASONS, f5, 'BanReason'), repeat: f6, failures: f7 }
    case 5: return { type: 'BanLifted', jail, ip, at, reason: pick(LIFT_REASONS, f4, 'LiftReason') }
    case 6: return { type: 'BanExpired', jail, ip, at }
    case 7: return { type: 'StateForgotten', jail, ip, at }
    case 8: return { type: 'NoEffect', jail, ip, at, why: f4s }
    default: throw new WireError('DomainEvent: no event set')
  }
}

/** Reads entries one after another into itself (replay's loop: no
 *  reader, entry or events array made per entry). What one read() leaves
 *  here holds until the next read(). */
export class EntryEventsReader {
  seq = 0
  at = 0
  readonly events: DomainEvent[] = []
  #r: protobuf.Reader | null = null

  /** Reads the entry in bytes[start, end); same result as
   *  wire.decodeEntryEvents of those bytes. */
  read(bytes: Uint8Array, start = 0, end = bytes.length): this {
    let r = this.#r
    if (r === null || r.buf !== bytes) r = this.#r = protobuf.Reader.create(bytes)
    r.pos = start
    r.len = end
    let seq = 0
    let at = 0
    const events = this.events
    events.length = 0
    try {
      while (r.pos < r.len) {
        const tag = r.uint32()
        switch (tag) {
          case (1 << 3) | 0: seq = int64(r, 'seq', true); break
          case (2 << 3) | 0: at = int64(r, 'at'); break
          case (4 << 3) | 2: {
            const end = r.uint32() + r.pos
            events.push(readEvent(r, end))
            break
          }
          default: r.skipType(tag & 7)
        }
      }
    } catch (err) {
      if (err instanceof WireError) throw err
      throw new WireError(`LedgerEntry: ${(err as Error).message}`, { cause: err })
    }
    this.seq = seq
    this.at = at
    return this
  }
}
