// The ledger as the bus publishes it: its sequence, its log read back from
// the store, and its commits with the bytes it stored (not encoded twice).
import type { Ledger } from '../../ledger/ledger.js'
import { committedFrom } from '../../ledger/store/log-reader.js'
import type { LedgerFeed } from '../bus/bus.js'

export function ledgerFeed(ledger: Ledger): LedgerFeed {
  return {
    get seq() { return ledger.seq },
    read: (from, limit) => committedFrom(ledger.store, from, limit),
    onCommit: listener => ledger.onCommit(listener),
  }
}
