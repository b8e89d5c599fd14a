// What the CLI asks of the ledger. The same API is served in-process (the
// CLI opened the ledger itself) or over the control socket of the running
// service, which holds the ledger's lock.
import type { Ledger, SubmitResult } from '../../ledger/ledger.js'
import type { JailStanding } from '../../ledger/rules/lifecycle.js'
import type { BanReason, LedgerEntry, LedgerInput, Millis } from '../../ledger/rules/types.js'
import { bansAsOf, entriesFor, entriesFrom, verify, type ReplayProgress, type VerifyReport } from '../../ledger/store/log-reader.js'

export type BanView = Readonly<{ jail: string; ip: string; since: Millis; until: Millis; reason: BanReason }>

export interface LedgerApi {
  submit(inputs: readonly LedgerInput[]): Promise<SubmitResult[]>
  /** Bans in force at `at`; null: now, from the live projection. */
  bans(at: Millis | null): Promise<BanView[]>
  /** The entries that concern `ip`, in ledger order. */
  explain(ip: string): Promise<LedgerEntry[]>
  /** At most `limit` committed entries from sequence `from` on, in ledger order. */
  entries(from: number, limit: number): Promise<LedgerEntry[]>
  /** Replays the whole log and compares it with the stored projection. */
  verify(onProgress?: ReplayProgress): Promise<VerifyReport>
  /** The last sequence, and each jail's addresses by where they stand now. */
  status(): Promise<LedgerStatus>
  close(): Promise<void>
}

export type LedgerStatus = Readonly<{ seq: number; jails: readonly JailStanding[] }>

/** The API over a ledger this process holds. `now` is the clock. */
export function localLedgerApi(ledger: Ledger, now: () => Millis, onClose: () => Promise<void> = async () => {}): LedgerApi {
  return {
    submit: inputs => ledger.submit(inputs),
    bans: async at => {
      const rows = at === null
        ? ledger.activeBans(now())
        : await bansAsOf(ledger.store, at)
      return rows.map(({ jail, ip, since, until, reason }) => ({ jail, ip, since, until, reason }))
        .sort((a, b) => a.since - b.since || a.ip.localeCompare(b.ip))
    },
    explain: ip => entriesFor(ledger.store, ip),
    entries: async (from, limit) => (limit < 1 ? [] : entriesFrom(ledger.store, from, limit)),
    verify: onProgress => verify(ledger.store, onProgress),
    status: async () => ({ seq: ledger.seq, jails: ledger.standings(now()) }),
    close: onClose,
  }
}
