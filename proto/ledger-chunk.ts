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

/** The entries' bytes, as views into `chunk`. */
export function chunkEntries(chunk: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  forEachChunkEntry(chunk, (start, end) => out.push(chunk.subarray(start, end)))
  return out
}
