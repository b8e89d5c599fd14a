// proto/ledger-chunk.ts: a chunk is the protobuf LedgerChunk of its entries
// (protobufjs reads it as such), its entries come back byte for byte, and
// bytes that are not a chunk are refused with a WireError.
import t from 'tap'
import { chunkEntries, encodeChunk } from '../../proto/ledger-chunk.js'
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
  t.same(chunkEntries(chunk).map(b => Buffer.from(b)), bytes.map(b => Buffer.from(b)), 'entries come back byte for byte')
  t.same(chunkEntries(chunk).map(decodeEntry), entries)
})

t.test('given no entries, when chunked, then the chunk is empty and reads back as none', async t => {
  t.equal(encodeChunk([]).length, 0)
  t.same(chunkEntries(new Uint8Array(0)), [])
})

t.test('given bytes that are not a chunk, when read, then a WireError names the problem', async t => {
  const chunk = encodeChunk([encodeEntry(entry(1, 2))])
  t.throws(() => chunkEntries(chunk.subarray(0, chunk.length - 1)), WireError, 'truncated entry')
  t.throws(() => chunkEntries(Uint8Array.of(0x08, 0x01)), WireError, 'another field')
  t.throws(() => chunkEntries(Uint8Array.of(0x0a)), WireError, 'a tag without a length')
  t.throws(() => chunkEntries(Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)), WireError, 'an overlong length')
})
