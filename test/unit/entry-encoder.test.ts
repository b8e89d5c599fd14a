// proto/entry-encoder.ts: the hand-written LedgerEntry and AddressState
// encoder writes the very bytes protobufjs writes (replay verify compares
// projection rows byte for byte; the reflective decoder reads entries), for
// every input and event type and for edge values, and its shared slabs never
// overwrite a message it returned.
import fc from 'fast-check'
import t from 'tap'
import { encodeEntryFast, encodeStateFast } from '../../proto/entry-encoder.js'
import { decodeState } from '../../proto/state-decoder.js'
import { decodeEntry, entryToWire, stateToWire, wireTypes } from '../../proto/wire.js'
import type {
  AddressState, DomainEvent, ImportedBan, LedgerEntry, LedgerInput, LogEvent, OperatorCommand,
} from '../../ledger/rules/types.js'
import { DAY, T0 } from '../helpers/rules.js'
import { int64, state, uint32 } from '../helpers/wire-arbitraries.js'

const reflectiveEntry = (e: LedgerEntry): Uint8Array => wireTypes.LedgerEntry.encode(entryToWire(e)).finish()
const reflectiveState = (s: AddressState): Uint8Array => wireTypes.AddressState.encode(stateToWire(s)).finish()
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

// ---------------------------------------------------------------- values

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map(c => String.fromCharCode(c))
const surrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map(c => String.fromCharCode(c))
/** ASCII, any code point (astral ones as pairs), lone surrogates, at every
 *  length protobufjs treats apart: 0, under 40, under 128, 128 and more. */
const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 45 }),
  fc.string({ unit: fc.oneof(codeUnit, surrogate, fc.constantFrom('é', '😀', 'a')), maxLength: 45 }),
  fc.string({ unit: fc.oneof(codeUnit, surrogate, fc.constantFrom('é', '😀', 'a')), minLength: 35, maxLength: 200 }),
  fc.string({ minLength: 120, maxLength: 300 }),
)

const log = fc.record({
  type: fc.constant('log'), kind: fc.constantFrom('failure', 'success'), id: text, jail: text, ip: text, at: int64,
  host: text, source: text, user: text, receivedAt: int64,
}, { requiredKeys: ['type', 'kind', 'id', 'jail', 'ip', 'at', 'host', 'source'] }) as fc.Arbitrary<LogEvent>
const operator = fc.record({
  type: fc.constant('operator'), action: fc.constantFrom('ban', 'unban', 'pardon'), id: text, jail: text, ip: text,
  at: int64, actor: text, reason: text, duration: int64,
}, { requiredKeys: ['type', 'action', 'id', 'jail', 'ip', 'at', 'actor', 'reason'] }) as fc.Arbitrary<OperatorCommand>
const imported = fc.record({
  type: fc.constant('import'), id: text, jail: text, ip: text, bannedAt: int64, at: int64, source: text,
}) as fc.Arbitrary<ImportedBan>
const tick = fc.record({ type: fc.constant('tick'), at: int64 }) as fc.Arbitrary<LedgerInput>
const input: fc.Arbitrary<LedgerInput> = fc.oneof(log, operator, imported, tick)

const subject = { jail: text, ip: text, at: int64 }
const event = fc.oneof(
  fc.record({ type: fc.constant('FailureRecorded'), ...subject, outcome: fc.constantFrom('counted', 'absorbed', 'while-banned', 'ignored'), host: text, windowStart: int64 }),
  fc.record({ type: fc.constant('CounterCleared'), ...subject }),
  fc.record({ type: fc.constant('GraceOpened'), ...subject, until: int64 }),
  fc.record({ type: fc.constant('BanIssued'), ...subject, until: int64, reason: fc.constantFrom('maxretry', 'operator', 'import'), repeat: uint32, failures: uint32 }),
  fc.record({ type: fc.constant('BanLifted'), ...subject, reason: fc.constantFrom('success', 'operator') }),
  fc.record({ type: fc.constant('BanExpired'), ...subject }),
  fc.record({ type: fc.constant('StateForgotten'), ...subject }),
  fc.record({ type: fc.constant('NoEffect'), ...subject, why: text }),
) as fc.Arbitrary<DomainEvent>

const entry: fc.Arbitrary<LedgerEntry> = fc.record({
  seq: int64, at: int64, cause: input, events: fc.array(event, { maxLength: 6 }),
})
// ---------------------------------------------------------------- tests

t.test('random entries: the same bytes as protobufjs', async t => {
  fc.assert(fc.property(entry, e => hex(encodeEntryFast(e)) === hex(reflectiveEntry(e))), { numRuns: 5000 })
  t.pass('5000 entries')
})

t.test('random states: the same bytes as protobufjs', async t => {
  fc.assert(fc.property(state, s => hex(encodeStateFast(s)) === hex(reflectiveState(s))), { numRuns: 5000 })
  t.pass('5000 states')
})

const T = { jail: 'ssh', ip: '203.0.113.7', at: T0 }
const causes: LedgerInput[] = [
  { type: 'log', kind: 'failure', id: 'h/1:2:abc/100/ssh', ...T, host: 'h', source: '/var/log/auth.log', user: 'root', receivedAt: T0 + 5 },
  { type: 'log', kind: 'failure', id: 'h/1', ...T, host: 'h', source: 's', user: 'rööt😀' },
  { type: 'log', kind: 'success', id: 'x', ...T, host: 'h', source: 's', receivedAt: T0 },
  { type: 'log', kind: 'success', id: 'x', ...T, host: 'h', source: 's' },
  { type: 'log', kind: 'failure', id: '', jail: '', ip: '', at: 0, host: '', source: '', user: '', receivedAt: 0 },
  { type: 'operator', action: 'ban', id: 'op', ...T, actor: 'root', reason: 'why', duration: DAY },
  { type: 'operator', action: 'unban', id: 'op1', ...T, actor: 'root', reason: 'ok', duration: 0 },
  { type: 'operator', action: 'pardon', id: 'op2', ...T, actor: 'root', reason: '' },
  { type: 'import', id: 'imp', ...T, bannedAt: T0 - DAY, at: T0, source: 'denyhosts:/etc/hosts.deny:3' },
  { type: 'import', id: 'imp', ...T, bannedAt: -1, at: 2 ** 53 - 1, source: '' },
  { type: 'tick', at: T0 },
  { type: 'tick', at: 0 },
  { type: 'tick', at: -(2 ** 53 - 1) },
]
const events: DomainEvent[] = [
  { type: 'FailureRecorded', ...T, outcome: 'counted', host: 'a', windowStart: T0 - 2 * DAY },
  { type: 'FailureRecorded', ...T, outcome: 'ignored', host: '', windowStart: 0 },
  { type: 'CounterCleared', ...T },
  { type: 'GraceOpened', ...T, until: T0 + DAY },
  { type: 'BanIssued', ...T, until: T0 + 5 * DAY, reason: 'maxretry', repeat: 2, failures: 3 },
  { type: 'BanIssued', ...T, until: 0, reason: 'import', repeat: 0, failures: 2 ** 32 - 1 },
  { type: 'BanLifted', ...T, reason: 'success' },
  { type: 'BanLifted', ...T, reason: 'operator' },
  { type: 'BanExpired', ...T },
  { type: 'StateForgotten', jail: '', ip: '', at: 0 },
  { type: 'NoEffect', ...T, why: 'already banned' },
]

t.test('every input and event type, with and without optional fields', async t => {
  causes.forEach((cause, i) => {
    for (const evs of [[], events]) {
      const e: LedgerEntry = { seq: i + 1, at: cause.at, cause, events: evs }
      const bytes = encodeEntryFast(e)
      t.equal(hex(bytes), hex(reflectiveEntry(e)), `${cause.type} ${i}, ${evs.length} events`)
      // An optional field holding its default ('' or 0) decodes as absent.
      const defaults = Object.entries(cause).some(([k, v]) => ['user', 'receivedAt', 'duration'].includes(k) && (v === '' || v === 0))
      if (!defaults) t.same(decodeEntry(bytes), e, 'and it decodes back')
    }
  })
  t.equal(hex(encodeEntryFast({ seq: 0, at: 0, cause: { type: 'tick', at: 0 }, events: [] })), '1a022200', 'an all-default entry keeps its cause')
})

t.test('strings around protobufjs\' length thresholds, with non-ASCII, astral and lone surrogates', async t => {
  const pieces = ['a', 'é', '€', '😀', '\ud800', '\udc00', '\ud83d']
  for (const n of [1, 38, 39, 40, 41, 42, 43, 63, 64, 126, 127, 128, 129, 200, 5000]) {
    for (const p of pieces) {
      for (const s of [p.repeat(n).slice(0, n), 'a'.repeat(n - 1) + p, p + 'a'.repeat(Math.max(0, n - 1))]) {
        const e: LedgerEntry = { seq: 1, at: T0, cause: { type: 'operator', action: 'ban', id: s, ...T, actor: s, reason: 'r' }, events: [{ type: 'NoEffect', ...T, why: s }] }
        t.equal(hex(encodeEntryFast(e)), hex(reflectiveEntry(e)), `${n} × ${JSON.stringify(p)}`)
      }
    }
  }
})

t.test('states, edge values', async t => {
  const states: AddressState[] = [
    { failures: [], graceUntil: 0, graceFailures: 0, ban: null, bans: 0, lastBanEnd: 0 },
    { failures: [0, -1, 2 ** 53 - 1, T0], graceUntil: T0 + DAY, graceFailures: 3, ban: { since: 0, until: 0, reason: 'maxretry', repeat: 0 }, bans: 2, lastBanEnd: T0 - DAY },
    { failures: Array.from({ length: 40 }, (_, i) => T0 + i), graceUntil: -1, graceFailures: 2 ** 32 - 1, ban: { since: T0, until: T0 + DAY, reason: 'import', repeat: 1 }, bans: 1, lastBanEnd: 2 ** 53 - 1 },
  ]
  for (const s of states) {
    const bytes = encodeStateFast(s)
    t.equal(hex(bytes), hex(reflectiveState(s)))
    t.same(decodeState(bytes), s)
  }
})

t.test('returned bytes are never overwritten, across slabs and messages larger than one', async t => {
  const made: [LedgerEntry, Uint8Array][] = []
  for (let i = 0; i < 5000; i++) {
    const big = i % 997 === 0 ? 'x'.repeat(70_000 + i) : ''
    const e: LedgerEntry = {
      seq: i + 1, at: T0 + i, cause: causes[i % causes.length] as LedgerInput,
      events: [{ type: 'NoEffect', ...T, why: big + String(i) }, events[i % events.length] as DomainEvent],
    }
    made.push([e, encodeEntryFast(e)])
  }
  let bad = 0
  for (const [e, bytes] of made) if (hex(bytes) !== hex(reflectiveEntry(e))) bad++
  t.equal(bad, 0, '5000 entries still hold their own bytes')
})

t.test('an unknown input or event throws and leaves the encoder usable', async t => {
  const bad = { seq: 1, at: T0, cause: causes[0], events: [{ type: 'Nope', ...T }] } as unknown as LedgerEntry
  t.throws(() => encodeEntryFast(bad), TypeError)
  t.throws(() => encodeEntryFast({ seq: 1, at: T0, cause: { type: 'nope' }, events: [] } as unknown as LedgerEntry), TypeError)
  const e: LedgerEntry = { seq: 2, at: T0, cause: causes[0] as LedgerInput, events }
  t.equal(hex(encodeEntryFast(e)), hex(reflectiveEntry(e)))
})
