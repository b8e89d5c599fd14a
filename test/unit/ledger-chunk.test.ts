// proto/ledger-chunk.ts: a chunk is the protobuf LedgerChunk of its entries
// (protobufjs reads it as such), its entries come back byte for byte, a
// single entry reads as a chunk of one, and bytes that are neither are
// refused with a WireError.
import t from 'tap'
import { CHUNK_MAX_BYTES, CHUNK_MAX_ENTRIES, chunkRuns, encodeChunk, entriesOf, entrySeq, entrySeqs } from '../../proto/ledger-chunk.js'
import { decodeEntry, encodeEntry, WireError, wireTypes } from '../../proto/wire.js'
import type { LedgerEntry } from '../../ledger/rules/types.js'
import { T0 } from '../helpers/rules.js'

const entry = (seq: number, events: number): LedgerEntry => ({
  seq,
  at: T0 + seq,
  cause: { type: 'tick', at: T0 + seq },
  events: Array.from({ length: events }, (_, i) => ({ type: 'CounterCleared' as const, jail: 'ssh', ip: `192.0.2.${i % 256}`, at: T0 })),
})

t.test('given entries of 1 to 200 bytes and more, when chunked, then protobufjs reads a LedgerChunk of the same entries', async t => {
  // 0 events: a short entry; 10 events: a length needing a 2-byte varint.
  const entries = [entry(1, 0), entry(2, 10), entry(3, 1), entry(4, 3000)]
  const bytes = entries.map(encodeEntry)
  t.ok((bytes[1] as Uint8Array).length > 127, 'the second entry needs a two-byte length')
  t.ok((bytes[3] as Uint8Array).length > 16_383, 'the last entry needs a three-byte length')
  const chunk = encodeChunk(bytes)
  const decoded = wireTypes.LedgerChunk.decode(chunk) as unknown as { entries: unknown[] }
  t.equal(decoded.entries.length, 4)
  t.same(entriesOf(chunk).map(b => Buffer.from(b)), bytes.map(b => Buffer.from(b)), 'entries come back byte for byte')
  t.same(entriesOf(chunk).map(decodeEntry), entries)
})

t.test('given no entries, when chunked, then the chunk is empty', async t => {
  t.equal(encodeChunk([]).length, 0)
})

t.test('given a single entry (format 1, or a stream written before chunks), when read, then it is its own only entry', async t => {
  const bytes = encodeEntry(entry(300, 2))
  t.same(entriesOf(bytes).map(b => Buffer.from(b)), [Buffer.from(bytes)])
  t.same(entrySeqs(bytes), { first: 300, last: 300, count: 1 })
})

t.test('given a chunk, when its sequences are read, then they come from the entries\' leading field without decoding', async t => {
  const chunk = encodeChunk([entry(127, 1), entry(128, 0), entry(2 ** 40, 3)].map(encodeEntry))
  t.same(entrySeqs(chunk), { first: 127, last: 2 ** 40, count: 3 })
  t.same(entriesOf(chunk).map(e => entrySeq(e)), [127, 128, 2 ** 40])
  t.throws(() => entrySeq(Uint8Array.of(0x08, 0x80)), WireError, 'a truncated seq')
  t.throws(() => entrySeq(Uint8Array.of(0x08, 0x00)), WireError, 'seq 0')
  t.throws(() => entrySeq(Uint8Array.of(0x10, 0x01)), WireError, 'not led by its seq')
})

t.test('given bytes that are not a chunk, when read, then a WireError names the problem', async t => {
  const chunk = encodeChunk([encodeEntry(entry(1, 2))])
  t.throws(() => entriesOf(chunk.subarray(0, chunk.length - 1)), WireError, 'truncated entry')
  t.throws(() => entriesOf(Uint8Array.of(0x10, 0x01)), WireError, 'another field')
  t.throws(() => entriesOf(new Uint8Array(0).subarray(0)), WireError, 'nothing')
  t.throws(() => entriesOf(Uint8Array.of(0x0a)), WireError, 'a tag without a length')
  t.throws(() => entriesOf(Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)), WireError, 'an overlong length')
})

t.test('given more entries or bytes than one chunk holds, when cut into runs, then each run fits a chunk and an oversized entry goes alone', async t => {
  const small = Array.from({ length: 2500 }, () => new Uint8Array(10))
  t.same([...chunkRuns(small, b => b)].map(r => r.length), [CHUNK_MAX_ENTRIES, CHUNK_MAX_ENTRIES, 500], 'by count')
  const big = new Uint8Array(CHUNK_MAX_BYTES)
  const half = new Uint8Array(CHUNK_MAX_BYTES / 2)
  t.same([...chunkRuns([half, half, big, half], b => b)].map(r => r.map(b => b.length)),
    [[half.length], [half.length], [big.length], [half.length]], 'by encoded bytes (each with its tag and length)')
  t.same([...chunkRuns([], b => b)], [])
  t.ok([...chunkRuns(small, b => b)].every(run => encodeChunk(run).length <= CHUNK_MAX_BYTES))
})
