// A hand-written encoder of LedgerEntry and AddressState straight from the
// domain types, for the ledger's write path: protobufjs' encoder plus the
// object mapping in wire.ts (entryToWire) cost about a tenth of the ledger
// thread's time per input. It writes the field numbers of banledger.proto
// (LedgerEntry 1-4, LedgerInput's oneof 1-4, DomainEvent's oneof 1-8 and
// their fields, AddressState 1-6, Ban 1-4) the way protobufjs 8 does, byte
// for byte: fields in number order, proto3 defaults (0, "") left out, oneof
// members and set sub-messages always written, repeated int64 packed,
// int64 as protobufjs' LongBits.fromNumber, and strings as its BufferWriter
// (a lone surrogate is 3 raw bytes in a string of fewer than 40 UTF-16 units,
// U+FFFD from 40 on). Replay verify compares projection rows byte for byte,
// so test/unit/entry-encoder.test.ts checks the bytes against protobufjs
// over random entries and states.
//
// Messages are written into 64 KiB slabs and returned as exact-size views
// of them: no Writer, no per-message buffer. A view keeps its slab alive;
// the ledger holds entries only until they are written and published.
import type {
  AddressState, BanReason, DomainEvent, FailureOutcome, LedgerEntry, LedgerInput,
} from '../ledger/rules/types.js'

const SLAB = 64 * 1024

let buf = new Uint8Array(SLAB)
/** Where the message being written starts in `buf`, and the write cursor. */
let start = 0
let pos = 0

/** Makes room for `n` more bytes: a new slab when this one is full, with
 *  the part of the message written so far moved to its start. Positions
 *  are kept relative to `start` across calls for that reason. */
function ensure(n: number): void {
  if (pos + n <= buf.length) return
  const written = pos - start
  const next = new Uint8Array(Math.max(SLAB, 2 * (written + n)))
  next.set(buf.subarray(start, pos), 0)
  buf = next
  start = 0
  pos = written
}

/** The finished message, and the next one starts after it. */
function finish(): Uint8Array {
  const out = buf.subarray(start, pos)
  start = pos
  return out
}

/** Drops a message abandoned by an exception. */
function reset(): void {
  pos = start
}

function varint32(v: number): void {
  while (v > 127) {
    buf[pos++] = (v & 127) | 128
    v >>>= 7
  }
  buf[pos++] = v
}

/** protobufjs' Writer.uint64/int64 of a number (LongBits.fromNumber):
 *  negatives as ten bytes of two's complement. 10 bytes must be free. */
function varint64(v: number): void {
  let lo: number
  let hi: number
  if (v >= 0) {
    lo = v >>> 0
    hi = ((v - lo) / 4294967296) >>> 0
  } else {
    const a = -v
    lo = a >>> 0
    hi = ((a - lo) / 4294967296) >>> 0
    hi = ~hi >>> 0
    lo = ~lo >>> 0
    if (++lo > 4294967295) {
      lo = 0
      if (++hi > 4294967295) hi = 0
    }
  }
  while (hi !== 0) {
    buf[pos++] = (lo & 127) | 128
    lo = ((lo >>> 7) | (hi << 25)) >>> 0
    hi >>>= 7
  }
  while (lo > 127) {
    buf[pos++] = (lo & 127) | 128
    lo >>>= 7
  }
  buf[pos++] = lo
}

/** An int64/uint64 field, left out when 0 (tags here are all one byte). */
function int64Field(tag: number, v: number): void {
  if (v === 0) return
  ensure(11)
  buf[pos++] = tag
  varint64(v)
}

function uint32Field(tag: number, v: number): void {
  if (v === 0) return
  ensure(6)
  buf[pos++] = tag
  varint32(v >>> 0)
}

/** An enum field of a known positive value (left out when unmapped). */
function enumField(tag: number, v: number | undefined): void {
  if (v === undefined || v === 0) return
  ensure(6)
  buf[pos++] = tag
  varint32(v)
}

/** Opens a length-delimited field: its tag, one byte kept for the length.
 *  Returns where that byte is, relative to `start`. */
function open(tag: number): number {
  ensure(2)
  buf[pos++] = tag
  return pos++ - start
}

/** Writes the length of the field opened at `at`; a length of 128 or more
 *  takes more than the byte kept, and the content moves up. */
function close(at: number): void {
  const lenPos = start + at
  const len = pos - lenPos - 1
  if (len < 128) {
    buf[lenPos] = len
    return
  }
  const n = len < 16384 ? 2 : len < 2097152 ? 3 : len < 268435456 ? 4 : 5
  ensure(n - 1)
  const p = start + at // ensure may have moved the message
  buf.copyWithin(p + n, p + 1, p + 1 + len)
  pos = p
  varint32(len)
  pos = p + n + len
}

function stringField(tag: number, s: string): void {
  const n = s.length
  if (n === 0) return
  ensure(n * 3 + 6)
  const at = open(tag)
  let p = pos
  const b = buf
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c >= 128) {
      p = utf8(s, i, p, n < 40)
      break
    }
    b[p++] = c
  }
  pos = p
  close(at)
}

/** The rest of `s` from `i` at `p`, as protobufjs writes it: its own
 *  utf8.write under 40 units (lone surrogates as 3 raw bytes), Node's
 *  Buffer#utf8Write from 40 (lone surrogates as U+FFFD). */
function utf8(s: string, i: number, p: number, raw: boolean): number {
  const b = buf
  for (; i < s.length; i++) {
    let c = s.charCodeAt(i)
    if (c < 128) {
      b[p++] = c
    } else if (c < 2048) {
      b[p++] = (c >> 6) | 192
      b[p++] = (c & 63) | 128
    } else if ((c & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      c = 0x10000 + ((c & 0x3ff) << 10) + (s.charCodeAt(++i) & 0x3ff)
      b[p++] = (c >> 18) | 240
      b[p++] = ((c >> 12) & 63) | 128
      b[p++] = ((c >> 6) & 63) | 128
      b[p++] = (c & 63) | 128
    } else {
      if (!raw && (c & 0xf800) === 0xd800) c = 0xfffd
      b[p++] = (c >> 12) | 224
      b[p++] = ((c >> 6) & 63) | 128
      b[p++] = (c & 63) | 128
    }
  }
  return p
}

// Enum values of banledger.proto (undefined, as wire.ts' maps give, for a
// name the schema lacks: the field is then left out).
const failureOutcome = (o: FailureOutcome): number | undefined =>
  o === 'counted' ? 1 : o === 'absorbed' ? 2 : o === 'while-banned' ? 3 : o === 'ignored' ? 4 : undefined
const banReason = (r: BanReason): number | undefined =>
  r === 'maxretry' ? 1 : r === 'operator' ? 2 : r === 'import' ? 3 : undefined

const tag = (field: number, wire: number): number => (field << 3) | wire

/** Opens LogEvent or OperatorCommand (LedgerInput's member `field`) and
 *  writes the fields 1-5 they share: id, kind or action, jail, ip, at. */
function head(field: number, input: Readonly<{ id: string; jail: string; ip: string; at: number }>, kind: number | undefined): number {
  const at = open(tag(field, 2))
  stringField(tag(1, 2), input.id)
  enumField(tag(2, 0), kind)
  stringField(tag(3, 2), input.jail)
  stringField(tag(4, 2), input.ip)
  int64Field(tag(5, 0), input.at)
  return at
}

/** A LedgerInput message (the oneof wrapper's content). */
function writeInput(input: LedgerInput): void {
  switch (input.type) {
    case 'log': {
      const at = head(1, input, input.kind === 'failure' ? 1 : input.kind === 'success' ? 2 : undefined)
      stringField(tag(6, 2), input.host)
      stringField(tag(7, 2), input.source)
      if (input.user !== undefined) stringField(tag(8, 2), input.user)
      if (input.receivedAt !== undefined) int64Field(tag(9, 0), input.receivedAt)
      close(at)
      return
    }
    case 'operator': {
      const at = head(2, input, input.action === 'ban' ? 1 : input.action === 'unban' ? 2 : input.action === 'pardon' ? 3 : undefined)
      stringField(tag(6, 2), input.actor)
      stringField(tag(7, 2), input.reason)
      if (input.duration !== undefined) int64Field(tag(8, 0), input.duration)
      close(at)
      return
    }
    case 'import': {
      const at = open(tag(3, 2))
      stringField(tag(1, 2), input.id)
      stringField(tag(2, 2), input.jail)
      stringField(tag(3, 2), input.ip)
      int64Field(tag(4, 0), input.bannedAt)
      int64Field(tag(5, 0), input.at)
      stringField(tag(6, 2), input.source)
      close(at)
      return
    }
    case 'tick': {
      const at = open(tag(4, 2))
      int64Field(tag(1, 0), input.at)
      close(at)
      return
    }
    default: {
      const never: never = input
      throw new TypeError(`unknown input ${JSON.stringify(never)}`)
    }
  }
}

/** A DomainEvent message: the oneof member's field number is the event's. */
function writeEvent(e: DomainEvent): void {
  let at: number
  switch (e.type) {
    case 'FailureRecorded':
      at = subject(1, e)
      enumField(tag(4, 0), failureOutcome(e.outcome))
      stringField(tag(5, 2), e.host)
      int64Field(tag(6, 0), e.windowStart)
      break
    case 'CounterCleared':
      at = subject(2, e)
      break
    case 'GraceOpened':
      at = subject(3, e)
      int64Field(tag(4, 0), e.until)
      break
    case 'BanIssued':
      at = subject(4, e)
      int64Field(tag(4, 0), e.until)
      enumField(tag(5, 0), banReason(e.reason))
      uint32Field(tag(6, 0), e.repeat)
      uint32Field(tag(7, 0), e.failures)
      break
    case 'BanLifted':
      at = subject(5, e)
      enumField(tag(4, 0), e.reason === 'success' ? 1 : e.reason === 'operator' ? 2 : undefined)
      break
    case 'BanExpired':
      at = subject(6, e)
      break
    case 'StateForgotten':
      at = subject(7, e)
      break
    case 'NoEffect':
      at = subject(8, e)
      stringField(tag(4, 2), e.why)
      break
    default: {
      const never: never = e
      throw new TypeError(`unknown event ${JSON.stringify(never)}`)
    }
  }
  close(at)
}

/** Opens the oneof member `field` and writes the fields every event has. */
function subject(field: number, e: DomainEvent): number {
  const at = open(tag(field, 2))
  stringField(tag(1, 2), e.jail)
  stringField(tag(2, 2), e.ip)
  int64Field(tag(3, 0), e.at)
  return at
}

/** The same bytes as protobufjs' LedgerEntry.encode(entryToWire(entry)). */
export function encodeEntryFast(entry: LedgerEntry): Uint8Array {
  try {
    int64Field(tag(1, 0), entry.seq)
    int64Field(tag(2, 0), entry.at)
    const cause = open(tag(3, 2))
    writeInput(entry.cause)
    close(cause)
    const events = entry.events
    for (let i = 0; i < events.length; i++) {
      const at = open(tag(4, 2))
      writeEvent(events[i] as DomainEvent)
      close(at)
    }
  } catch (err) {
    reset()
    throw err
  }
  return finish()
}

/** The same bytes as wire.ts' encodeState (protobufjs' AddressState). */
export function encodeStateFast(s: AddressState): Uint8Array {
  try {
    const failures = s.failures
    const n = failures.length
    if (n > 0) {
      ensure(n * 10 + 6)
      const at = open(tag(1, 2))
      for (let i = 0; i < n; i++) varint64(failures[i] as number)
      close(at)
    }
    int64Field(tag(2, 0), s.graceUntil)
    uint32Field(tag(3, 0), s.graceFailures)
    const ban = s.ban
    if (ban !== null) {
      const at = open(tag(4, 2))
      int64Field(tag(1, 0), ban.since)
      int64Field(tag(2, 0), ban.until)
      enumField(tag(3, 0), banReason(ban.reason))
      uint32Field(tag(4, 0), ban.repeat)
      close(at)
    }
    uint32Field(tag(5, 0), s.bans)
    int64Field(tag(6, 0), s.lastBanEnd)
  } catch (err) {
    reset()
    throw err
  }
  return finish()
}
