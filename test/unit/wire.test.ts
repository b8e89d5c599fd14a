// proto/wire.ts: every domain value survives the protobuf round trip, and
// bytes that cannot be what they claim are refused with a WireError.
import t from 'tap'
import protobuf from 'protobufjs'
import {
  decodeDecision, decodeEntry, encodeDecision, encodeEntry, encodeState, WireError, wireTypes,
} from '../../proto/wire.js'
import type { AddressState, Decision, DomainEvent, LedgerEntry, LedgerInput } from '../../ledger/rules/types.js'
import { addressKey, type AddressKey } from '../../ledger/rules/addresses.js'
import type { EventChange } from '../../ledger/rules/evolve.js'
import { EntryChangesReader } from '../../proto/entry-changes-decoder.js'
import { decodeState } from '../../proto/state-decoder.js'
import { decodeEntryEvents } from '../../proto/wire.js'
import { DAY, T0 } from '../helpers/rules.js'

type Read = { seq: number; at: number; events: { jail: string; address: AddressKey; change: EventChange }[] }

/** The replay decoder's reading of bytes[start, end), as a plain value. */
function decodeEntryEventsFast(bytes: Uint8Array, start?: number, end?: number): Read {
  const reader = new EntryChangesReader().read(bytes, start, end)
  const events: Read['events'] = []
  reader.forEachChange((jail, address, change) => events.push({ jail, address, change: { ...change } }))
  return { seq: reader.seq, at: reader.at, events }
}

/** What the replay decoder should read: each event's subject and the fields that change a state. */
function expected(entry: Pick<LedgerEntry, 'seq' | 'at' | 'events'>): Read {
  const changeOf = (e: DomainEvent): EventChange => {
    switch (e.type) {
      case 'FailureRecorded': return { type: e.type, at: e.at, outcome: e.outcome, windowStart: e.windowStart }
      case 'GraceOpened': return { type: e.type, at: e.at, until: e.until }
      case 'BanIssued': return { type: e.type, at: e.at, until: e.until, reason: e.reason, repeat: e.repeat }
      case 'BanLifted': return { type: e.type, at: e.at, reason: e.reason }
      default: return { type: e.type, at: e.at }
    }
  }
  return { seq: entry.seq, at: entry.at, events: entry.events.map(e => ({ jail: e.jail, address: addressKey(e.ip), change: changeOf(e) })) }
}

const subject = { jail: 'ssh', ip: '2001:db8::7', at: T0 }
const events: DomainEvent[] = [
  { type: 'FailureRecorded', ...subject, outcome: 'counted', host: 'a', windowStart: T0 - 2 * DAY },
  { type: 'FailureRecorded', ...subject, outcome: 'while-banned', host: 'b', windowStart: 0 },
  { type: 'CounterCleared', ...subject },
  { type: 'GraceOpened', ...subject, until: T0 + DAY },
  { type: 'BanIssued', ...subject, until: T0 + 5 * DAY, reason: 'maxretry', repeat: 2, failures: 3 },
  { type: 'BanLifted', ...subject, reason: 'success' },
  { type: 'BanExpired', ...subject },
  { type: 'StateForgotten', ...subject },
  { type: 'NoEffect', ...subject, why: 'already banned' },
]
const causes: LedgerInput[] = [
  { type: 'log', kind: 'failure', id: 'h/1:2:abc/100/ssh', jail: 'ssh', ip: '203.0.113.7', at: T0, host: 'h', source: '/var/log/auth.log', user: 'root', receivedAt: T0 + 5 },
  { type: 'log', kind: 'success', id: 'x', jail: 'ssh', ip: '203.0.113.7', at: T0, host: 'h', source: 's' },
  { type: 'operator', action: 'ban', id: 'op', jail: 'ssh', ip: '203.0.113.7', at: T0, actor: 'root', reason: 'why', duration: DAY },
  { type: 'operator', action: 'pardon', id: 'op2', jail: 'ssh', ip: '203.0.113.7', at: T0, actor: 'root', reason: '' },
  { type: 'import', id: 'imp', jail: 'ssh', ip: '203.0.113.7', bannedAt: T0 - DAY, at: T0, source: 'denyhosts:/etc/hosts.deny:3' },
  { type: 'tick', at: T0 },
]

t.test('ledger entries round-trip, for every input and event type', async t => {
  causes.forEach((cause, i) => {
    const entry: LedgerEntry = { seq: i + 1, at: T0, cause, events }
    t.same(decodeEntry(encodeEntry(entry)), entry, cause.type)
  })
})

t.test('states and decisions round-trip', async t => {
  const states: AddressState[] = [
    { failures: [T0, T0 + 1], graceUntil: 0, graceFailures: 0, ban: null, bans: 0, lastBanEnd: 0 },
    { failures: [], graceUntil: T0 + DAY, graceFailures: 3, ban: { since: T0, until: T0 + DAY, reason: 'import', repeat: 1 }, bans: 2, lastBanEnd: T0 - DAY },
  ]
  for (const s of states) t.same(decodeState(encodeState(s)), s)
  const d: Decision = { id: '7.1', type: 'ban', jail: 'ssh', ip: '198.51.100.1', at: T0, until: T0 + DAY, reason: 'maxretry', seq: 7, failures: 3 }
  t.same(decodeDecision(encodeDecision(d)), d)
})

t.test('64-bit integers cross as numbers; beyond 2^53 they are refused', async t => {
  // Field 5 (at) as a varint of 2^60, appended: the last value of a field wins.
  const big = protobuf.Writer.create().uint32((5 << 3) | 0).uint64(2 ** 60)
  const decision = wireTypes.Decision.encode({ id: 'x', type: 1, jail: 'ssh', ip: '198.51.100.1', reason: 1 }).finish()
  const bytes = new Uint8Array([...decision, ...big.finish()])
  t.throws(() => decodeDecision(bytes), { name: 'WireError', message: /at: not a safe integer/ })
  const ok = new Uint8Array([...decision, ...protobuf.Writer.create().uint32((5 << 3) | 0).uint64(2 ** 53 - 1).finish()])
  t.equal(decodeDecision(ok).at, 2 ** 53 - 1, 'up to 2^53 - 1 they are exact')
})

t.test('garbage bytes and unknown enum values are WireErrors, never crashes', async t => {
  t.throws(() => decodeEntry(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), WireError)
  t.throws(() => decodeEntry(new Uint8Array([])), WireError, 'an entry with no cause')
  const badEnum = wireTypes.Decision.encode({ id: 'x', type: 9, jail: 'ssh', ip: '198.51.100.1', reason: 1 }).finish()
  t.throws(() => decodeDecision(badEnum), { name: 'WireError', message: /DecisionType: unknown value 9/ })
})

t.test('the fast replay decoder agrees with the reflective one', async t => {
  causes.forEach((cause, i) => {
    const bytes = encodeEntry({ seq: i + 1, at: T0 + i, cause, events })
    t.strictSame(decodeEntryEventsFast(bytes), expected(decodeEntryEvents(bytes)), cause.type)
  })
  t.strictSame(decodeEntryEventsFast(encodeEntry({ seq: 2 ** 53 - 1, at: 0, cause: causes[5] as LedgerInput, events: [] })),
    { seq: 2 ** 53 - 1, at: 0, events: [] })
  // Varints of every length: short ones are read by the decoder itself,
  // 10 bytes (negatives) by protobufjs.
  for (const at of [0, 127, 128, 2 ** 49, 2 ** 53 - 1, -1, -(2 ** 40)]) {
    const bytes = encodeEntry({ seq: 3, at, cause: causes[5] as LedgerInput, events: [{ type: 'BanExpired', ...subject, at }] })
    t.strictSame(decodeEntryEventsFast(bytes), expected(decodeEntryEvents(bytes)), `at ${at}`)
  }
  const hugeSeq = protobuf.Writer.create().uint32((1 << 3) | 0).uint64(2 ** 63).finish()
  t.throws(() => decodeEntryEventsFast(hugeSeq), { name: 'WireError', message: /seq: not a safe integer/ })
  t.throws(() => decodeEntryEventsFast(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), WireError)
  const badEnum = encodeEntry({ seq: 1, at: T0, cause: causes[5] as LedgerInput, events: [{ type: 'BanLifted', ...subject, reason: 'success' }] })
  // Turn LIFT_REASON_SUCCESS (1) into 9: the last byte is the enum's varint.
  const patched = new Uint8Array(badEnum)
  patched[patched.length - 1] = 9
  t.throws(() => decodeEntryEventsFast(patched), { name: 'WireError', message: /LiftReason: unknown value 9/ })
})

t.test('given jails, hosts and addresses that change from event to event (the decoder reuses repeated text), when decoded fast, then each event keeps its own', async t => {
  const names = ['ssh', 'web', 'ssh', 'sshd', 'ssh', 'wéb', '']
  // IPv4 read as keys (the top bit set: a negative key), anything else as text
  const ips = ['192.0.2.1', '2001:db8::7', '0.0.0.0', '255.255.255.255', '198.51.100.20']
  const mixed: DomainEvent[] = names.map((name, i) => ({ type: 'FailureRecorded', jail: name, ip: ips[i % ips.length] as string, at: T0, outcome: 'counted', host: names[names.length - 1 - i] as string, windowStart: 0 }))
  const bytes = encodeEntry({ seq: 1, at: T0, cause: causes[5] as LedgerInput, events: mixed })
  t.strictSame(decodeEntryEventsFast(bytes), expected(decodeEntryEvents(bytes)))
  // A chunk's entries decoded in place, one range at a time.
  const twice = new Uint8Array([...bytes, ...bytes])
  t.strictSame(decodeEntryEventsFast(twice, bytes.length, twice.length), expected(decodeEntryEvents(bytes)), 'a range of a larger buffer')
})
