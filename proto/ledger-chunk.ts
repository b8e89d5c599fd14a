// A LedgerChunk: consecutive ledger entries in one message, as stored in
// the log (one LevelDB value per chunk) and as sent on the ledger stream.
// On the wire it is `message LedgerChunk { repeated LedgerEntry entries = 1; }`
// (banledger.proto): each entry is the tag byte 0x0a, its length as a
// varint, then the entry's own bytes, so a chunk is built by concatenating
// stored entries and read back without decoding them.
import { WireError } from './wire.js'

const ENTRIES_TAG = (1 << 3) | 2

const varintSize = (n: number): number => {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    size++
  }
  return size
}

/** At most this many entries in one chunk, and no more encoded bytes than
 *  CHUNK_MAX_BYTES unless a single entry is larger (it then goes alone):
 *  the bounds of a stored log value and of a ledger stream message (well
 *  under nats-server's 1 MiB max_payload; an entry of a log event is about
 *  250 bytes). */
export const CHUNK_MAX_ENTRIES = 1000
export const CHUNK_MAX_BYTES = 256 * 1024

/** `items` cut into runs of consecutive items that fit one chunk each
 *  (CHUNK_MAX_*); `bytesOf` gives an item's encoded entry. */
export function* chunkRuns<T>(items: readonly T[], bytesOf: (item: T) => Uint8Array): Generator<T[]> {
  let first = 0
  let bytes = 0
  for (let i = 0; i < items.length; i++) {
    const length = (bytesOf(items[i] as T)).length
    const size = 1 + varintSize(length) + length
    if (i > first && (i - first === CHUNK_MAX_ENTRIES || bytes + size > CHUNK_MAX_BYTES)) {
      yield items.slice(first, i)
      first = i
      bytes = 0
    }
    bytes += size
  }
  if (first < items.length) yield items.slice(first)
}

/** The chunk of these encoded entries (in ledger order). */
export function encodeChunk(entries: readonly Uint8Array[]): Uint8Array {
  let size = 0
  for (const e of entries) size += 1 + varintSize(e.length) + e.length
  const out = new Uint8Array(size)
  let pos = 0
  for (const e of entries) {
    out[pos++] = ENTRIES_TAG
    let n = e.length
    while (n >= 0x80) {
      out[pos++] = (n & 0x7f) | 0x80
      n = Math.floor(n / 128)
    }
    out[pos++] = n
    out.set(e, pos)
    pos += e.length
  }
  return out
}

/** Calls `each(start, end)` for every entry's bytes in `chunk`, in order.
 *  Throws WireError when the chunk is not a LedgerChunk. */
export function forEachChunkEntry(chunk: Uint8Array, each: (start: number, end: number) => void): void {
  const len = chunk.length
  let pos = 0
  while (pos < len) {
    if (chunk[pos] !== ENTRIES_TAG) throw new WireError(`LedgerChunk: unexpected byte ${chunk[pos]} at ${pos}`)
    pos++
    let size = 0
    let scale = 1
    for (let i = 0; ; i++) {
      if (pos >= len || i === 5) throw new WireError(`LedgerChunk: truncated or overlong entry length at ${pos}`)
      const b = chunk[pos++] as number
      size += (b & 0x7f) * scale
      if (b < 0x80) break
      scale *= 128
    }
    if (pos + size > len) throw new WireError(`LedgerChunk: entry of ${size} bytes at ${pos} runs past the chunk's ${len}`)
    each(pos, pos + size)
    pos += size
  }
}

const ENTRY_FIRST_BYTE = (1 << 3) | 0

/** Calls `each(start, end)` for the bytes of every entry `data` holds, in
 *  order: a LedgerChunk, or a single LedgerEntry (one value of a format-1
 *  log, one message of a ledger stream written before chunks). An entry
 *  starts with its field 1 (seq, varint: 0x08), a chunk with its field 1
 *  (an entry, length-delimited: 0x0a), so the first byte tells them apart.
 *  WireError when it is neither. */
export function forEachEntry(data: Uint8Array, each: (start: number, end: number) => void): void {
  if (data[0] === ENTRIES_TAG) forEachChunkEntry(data, each)
  else if (data[0] === ENTRY_FIRST_BYTE) each(0, data.length)
  else throw new WireError(`neither a LedgerChunk nor a LedgerEntry (first byte ${data[0] ?? 'none: empty'})`)
}

/** The entries' bytes (see forEachEntry), as views into `data`. */
export function entriesOf(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  forEachEntry(data, (start, end) => out.push(data.subarray(start, end)))
  return out
}

/** The ledger sequence of the encoded entry `data[start..end)` (its field 1), without decoding the rest. */
export function entrySeq(data: Uint8Array, start = 0, end = data.length): number {
  if (data[start] !== ENTRY_FIRST_BYTE) throw new WireError(`LedgerEntry: does not start with its seq (byte ${data[start] ?? 'none'})`)
  let seq = 0
  let scale = 1
  for (let pos = start + 1; pos < end && scale <= 2 ** 49; pos++) {
    const b = data[pos] as number
    seq += (b & 0x7f) * scale
    if (b < 0x80) {
      if (!Number.isSafeInteger(seq) || seq < 1) throw new WireError(`LedgerEntry: seq ${seq} out of range`)
      return seq
    }
    scale *= 128
  }
  throw new WireError('LedgerEntry: truncated or overlong seq')
}

/** The first and last ledger sequence `data` holds (see forEachEntry), and how many entries. */
export function entrySeqs(data: Uint8Array): { first: number; last: number; count: number } {
  let first = 0
  let lastStart = 0
  let lastEnd = 0
  let count = 0
  forEachEntry(data, (start, end) => {
    if (count++ === 0) first = entrySeq(data, start, end)
    lastStart = start
    lastEnd = end
  })
  if (count === 0) throw new WireError('an empty LedgerChunk')
  return { first, last: count === 1 ? first : entrySeq(data, lastStart, lastEnd), count }
}
