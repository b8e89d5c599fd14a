// proto/state-decoder.ts: the hand-written AddressState decoder reads what
// protobufjs writes, as protobufjs reads it (packed or unpacked failures,
// a field given twice, unknown fields), and refuses with a WireError what
// the reflective decoding refused (numbers beyond 2^53, an unknown or
// missing ban reason, bytes cut short).
import fc from 'fast-check'
import protobuf from 'protobufjs'
import t from 'tap'
import type { AddressState } from '../../ledger/rules/types.js'
import { decodeState } from '../../proto/state-decoder.js'
import { stateToWire, WireError, wireTypes } from '../../proto/wire.js'
import { T0 } from '../helpers/rules.js'
import { state } from '../helpers/wire-arbitraries.js'

const reflective = (s: AddressState): Uint8Array => wireTypes.AddressState.encode(stateToWire(s)).finish()
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap(p => [...p]))
const BANNED: AddressState = {
  failures: [T0 - 2, T0 - 1], graceUntil: T0 + 5, graceFailures: 2, ban: { since: T0, until: T0 + 100, reason: 'operator', repeat: 1 }, bans: 2, lastBanEnd: T0 - 9,
}

t.test('given states written by protobufjs, when decoded, then each is the state written', async t => {
  // JSON: -0 is written as 0; and the fields in the order of the domain type
  fc.assert(fc.property(state, s => JSON.stringify(decodeState(reflective(s))) === JSON.stringify(s)), { numRuns: 5000 })
  t.pass('5000 states')
})

t.test('given failures written unpacked (one varint field each), then they read as packed ones do', async t => {
  const w = protobuf.Writer.create()
  for (const f of [T0, T0 + 1, -1]) w.uint32((1 << 3) | 0).int64(f)
  t.same(decodeState(w.finish()).failures, [T0, T0 + 1, -1])
  // packed, then unpacked, then packed again: one list, in order
  const mixed = concat(reflective({ ...BANNED, failures: [1, 2] }), w.finish(), reflective({ ...BANNED, failures: [3] }))
  t.same(decodeState(mixed).failures, [1, 2, T0, T0 + 1, -1, 3])
})

t.test('given a field given twice, then the last one counts, a ban too; unknown fields are skipped', async t => {
  const later: AddressState = { ...BANNED, failures: [], graceUntil: T0 + 50, ban: { since: 1, until: 2, reason: 'import', repeat: 0 } }
  t.same(decodeState(concat(reflective(BANNED), reflective(later))), { ...later, failures: BANNED.failures })
  const unknown = protobuf.Writer.create()
    .uint32((15 << 3) | 0).uint64(2 ** 40)
    .uint32((16 << 3) | 2).bytes(new Uint8Array([1, 2, 3]))
    .uint32((17 << 3) | 1).fixed64(7)
    .uint32((18 << 3) | 5).fixed32(7)
    .finish()
  t.same(decodeState(concat(unknown, reflective(BANNED), unknown)), BANNED)
  const banWithUnknown = protobuf.Writer.create().uint32((4 << 3) | 2).fork()
    .uint32((9 << 3) | 0).uint32(5).uint32((3 << 3) | 0).int32(1).uint32((2 << 3) | 0).int64(T0)
    .ldelim().finish()
  t.same(decodeState(banWithUnknown).ban, { since: 0, until: T0, reason: 'maxretry', repeat: 0 })
  t.same(decodeState(new Uint8Array(0)), { failures: [], graceUntil: 0, graceFailures: 0, ban: null, bans: 0, lastBanEnd: 0 })
})

t.test('given bytes that are no AddressState, then a WireError says what', async t => {
  const beyond = protobuf.Writer.create().uint32((2 << 3) | 0).uint64(2 ** 60).finish()
  t.throws(() => decodeState(beyond), { name: 'WireError', message: /graceUntil: not a safe integer/ })
  const failureBeyond = protobuf.Writer.create().uint32((1 << 3) | 2).fork().uint64(2 ** 60).ldelim().finish()
  t.throws(() => decodeState(failureBeyond), { name: 'WireError', message: /failures: not a safe integer/ })
  const noReason = protobuf.Writer.create().uint32((4 << 3) | 2).fork().uint32((1 << 3) | 0).int64(T0).ldelim().finish()
  t.throws(() => decodeState(noReason), { name: 'WireError', message: /BanReason: unknown value 0/ })
  const badReason = protobuf.Writer.create().uint32((4 << 3) | 2).fork().uint32((3 << 3) | 0).int32(9).ldelim().finish()
  t.throws(() => decodeState(badReason), { name: 'WireError', message: /BanReason: unknown value 9/ })
  const whole = reflective(BANNED)
  for (let cut = 1; cut < whole.length; cut++) {
    // Some prefixes end between fields: a shorter, valid state.
    try {
      decodeState(whole.subarray(0, cut))
    } catch (err) {
      t.type(err, WireError, `cut at ${cut}`)
    }
  }
  t.throws(() => decodeState(new Uint8Array([0x0a, 0x05, 0x01])), WireError, 'packed failures longer than the bytes')
  t.throws(() => decodeState(new Uint8Array([0x22, 0x09, 0x08, 0x01])), WireError, 'a ban longer than the bytes')
  t.throws(() => decodeState(new Uint8Array([0x0a, 0x01, 0x80, 0x01])), WireError, 'a failure running past its packed field')
  t.throws(() => decodeState(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), WireError, 'garbage')
})
