// fast-check arbitraries of the values banledger.proto carries, for the
// tests of the hand-written encoder and decoders (proto/).
import fc from 'fast-check'
import type { AddressState } from '../../ledger/rules/types.js'
import { DAY, T0 } from './rules.js'

const EDGE_INTS = [
  0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35, 2 ** 49, 2 ** 53 - 1,
  -1, -127, -128, -(2 ** 31), -(2 ** 32), -(2 ** 53 - 1), T0, -0,
]
export const int64 = fc.oneof(fc.constantFrom(...EDGE_INTS), fc.maxSafeInteger(), fc.integer(), fc.integer({ min: T0 - DAY, max: T0 + DAY }))
export const uint32 = fc.oneof(fc.constantFrom(0, 1, 127, 128, 2 ** 31, 2 ** 32 - 1), fc.nat({ max: 2 ** 32 - 1 }))
export const state: fc.Arbitrary<AddressState> = fc.record({
  failures: fc.array(int64, { maxLength: 20 }), graceUntil: int64, graceFailures: uint32,
  ban: fc.option(fc.record({ since: int64, until: int64, reason: fc.constantFrom('maxretry', 'operator', 'import'), repeat: uint32 }), { nil: null }),
  bans: uint32, lastBanEnd: int64,
}) as fc.Arbitrary<AddressState>
