// Where the ledger stream (<PREFIX>_LEDGER) ends. Its messages are
// LedgerChunks of consecutive entries or, in a stream written before
// chunks, single LedgerEntries; proto/ledger-chunk.ts reads both
// (forEachEntry, entrySeqs). The stream sequence is not the ledger sequence: each message
// holds one entry or more, so the message holding ledger sequence S has a
// stream sequence <= S.
import type { JetStreamManager } from 'nats'
import { entrySeqs } from '../../../proto/ledger-chunk.js'

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
  return { streamSeq: Math.max(state.last_seq, m.seq), ledgerSeq: entrySeqs(m.data).last, messages: state.messages }
}
