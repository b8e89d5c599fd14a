// The messages of the ledger stream (<PREFIX>_LEDGER), as every reader
// sees them: a LedgerChunk of consecutive entries (proto/ledger-chunk.ts),
// or, in a stream written before chunks, one LedgerEntry. A LedgerEntry
// starts with its field 1 (seq, varint: byte 0x08) and a chunk with its
// field 1 (an entry, length-delimited: byte 0x0a), so the first byte tells
// them apart. The stream sequence is not the ledger sequence: each message
// holds one entry or more, so the message holding ledger sequence S has a
// stream sequence <= S.
import type { JetStreamManager } from 'nats'
import { forEachChunkEntry } from '../../../proto/ledger-chunk.js'
import { WireError } from '../../../proto/wire.js'

const ENTRY_FIRST_BYTE = 0x08
const CHUNK_FIRST_BYTE = 0x0a

/** Calls `each(start, end)` for the bytes of every entry the message holds, in order. WireError when it is neither form. */
export function forEachMessageEntry(data: Uint8Array, each: (start: number, end: number) => void): void {
  if (data[0] === CHUNK_FIRST_BYTE) forEachChunkEntry(data, each)
  else if (data[0] === ENTRY_FIRST_BYTE) each(0, data.length)
  else throw new WireError(`neither a LedgerChunk nor a LedgerEntry (first byte ${data[0] ?? 'none: empty'})`)
}

/** The entries' bytes, as views into `data`. */
export function messageEntries(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  forEachMessageEntry(data, (start, end) => out.push(data.subarray(start, end)))
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

/** The first and last ledger sequence the message holds. */
export function messageSeqs(data: Uint8Array): { first: number; last: number; count: number } {
  let first = 0
  let lastStart = 0
  let lastEnd = 0
  let count = 0
  forEachMessageEntry(data, (start, end) => {
    if (count++ === 0) first = entrySeq(data, start, end)
    lastStart = start
    lastEnd = end
  })
  if (count === 0) throw new WireError('an empty LedgerChunk')
  return { first, last: count === 1 ? first : entrySeq(data, lastStart, lastEnd), count }
}

export type LedgerStreamEnd = Readonly<{
  /** The stream's last sequence (the next message must expect it). */
  streamSeq: number
  /** The last ledger sequence in the stream; 0 when it holds no message. */
  ledgerSeq: number
  /** Messages held. */
  messages: number
}>

/** Where the ledger stream `stream` ends: its last sequence and the last
 *  ledger entry of its last message (`$JS.API.STREAM.MSG.GET`, which the
 *  ledger's user may use). */
export async function ledgerStreamEnd(jsm: JetStreamManager, stream: string, subject: string): Promise<LedgerStreamEnd> {
  const { state } = await jsm.streams.info(stream)
  if (state.messages === 0) return { streamSeq: state.last_seq, ledgerSeq: 0, messages: 0 }
  const m = await jsm.streams.getMessage(stream, { last_by_subj: subject })
  return { streamSeq: Math.max(state.last_seq, m.seq), ledgerSeq: messageSeqs(m.data).last, messages: state.messages }
}
