// A hand-written decoder of AddressState, the projection row, for the
// ledger's start-up, which decodes every row (600,000 in bench:ledger's
// start-up): protobufjs' reflective decoder (a message object per row, a
// LongBits object per 64-bit field) and then wire.ts's checks of that
// object's fields by name took 0.32-0.48 us a row; this takes 0.15-0.18
// (best of 5 over 600,000 rows, alternating).
// It reads the field numbers of banledger.proto (AddressState 1-6, Ban
// 1-4) as protobufjs does: failures packed or not (a proto3 parser takes
// both), a field given twice the last one, unknown fields skipped; and
// checks what wire.ts checked: every number a safe integer, a ban's reason
// a known one. test/unit/state-decoder.test.ts checks it against protobufjs.
import protobuf from 'protobufjs'
import type { AddressState, Ban } from '../ledger/rules/types.js'
import { BAN_REASONS, fieldEnd, int64, pick } from './field-readers.js'
import { asWireError } from './wire.js'

const VARINT = 0
const LENGTH = 2
const tag = (field: number, wire: number): number => (field << 3) | wire

export function decodeState(bytes: Uint8Array): AddressState {
  const r = protobuf.Reader.create(bytes)
  const failures: number[] = []
  let graceUntil = 0
  let graceFailures = 0
  let ban: Ban | null = null
  let bans = 0
  let lastBanEnd = 0
  try {
    while (r.pos < r.len) {
      const t = r.uint32()
      switch (t) {
        case tag(1, LENGTH): {
          const end = fieldEnd(r, r.uint32())
          while (r.pos < end) failures.push(int64(r, 'failures'))
          if (r.pos !== end) throw new RangeError('failures: a varint runs past its field')
          break
        }
        case tag(1, VARINT): failures.push(int64(r, 'failures')); break
        case tag(2, VARINT): graceUntil = int64(r, 'graceUntil'); break
        case tag(3, VARINT): graceFailures = r.uint32(); break
        case tag(4, LENGTH): ban = decodeBan(r, r.uint32()); break
        case tag(5, VARINT): bans = r.uint32(); break
        case tag(6, VARINT): lastBanEnd = int64(r, 'lastBanEnd'); break
        default: r.skipType(t & 7)
      }
    }
  } catch (err) {
    throw asWireError('AddressState', err)
  }
  return { failures, graceUntil, graceFailures, ban, bans, lastBanEnd }
}

/** The Ban of `length` bytes at r.pos. */
function decodeBan(r: protobuf.Reader, length: number): Ban {
  const end = fieldEnd(r, length)
  let since = 0
  let until = 0
  let reason = 0
  let repeat = 0
  while (r.pos < end) {
    const t = r.uint32()
    switch (t) {
      case tag(1, VARINT): since = int64(r, 'since'); break
      case tag(2, VARINT): until = int64(r, 'until'); break
      case tag(3, VARINT): reason = r.int32(); break
      case tag(4, VARINT): repeat = r.uint32(); break
      default: r.skipType(t & 7)
    }
  }
  if (r.pos !== end) throw new RangeError('Ban: a field runs past the message')
  return { since, until, reason: pick(BAN_REASONS, reason, 'BanReason'), repeat }
}
