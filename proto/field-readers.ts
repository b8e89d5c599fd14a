// Field readers shared by the hand-written decoders (entry-changes-decoder,
// state-decoder, log-event-batch-decoder), on protobufjs' Reader.
import type protobuf from 'protobufjs'
import type { BanReason } from '../ledger/rules/types.js'
import { WireError } from './wire.js'

/** BanReason by its number in banledger.proto. */
export const BAN_REASONS: readonly (BanReason | undefined)[] = [undefined, 'maxretry', 'operator', 'import']

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

/** The enum value numbered `n` in `table`; a WireError when there is none. */
export function pick<T>(table: readonly (T | undefined)[], n: number, what: string): T {
  const v = table[n]
  if (v === undefined) throw new WireError(`${what}: unknown value ${n}`)
  return v
}

/** Where a length-delimited field of `length` bytes from r.pos ends; a
 *  RangeError when that is past the bytes. */
export function fieldEnd(r: protobuf.Reader, length: number): number {
  const end = r.pos + length
  if (end > r.len) throw new RangeError(`index out of range: ${end} > ${r.len}`)
  return end
}
