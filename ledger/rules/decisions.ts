// Decisions: the part of an entry's events that workers act on.
import type { Decision, LedgerEntry } from './types.js'

/** The bans and unbans an entry caused, with deterministic ids "<seq>.<i>". */
export function decisionsOf(entry: LedgerEntry): Decision[] {
  const out: Decision[] = []
  entry.events.forEach((e, i) => {
    const base = { id: `${entry.seq}.${i}`, jail: e.jail, ip: e.ip, at: e.at, seq: entry.seq }
    switch (e.type) {
      case 'BanIssued':
        out.push({ ...base, type: 'ban', until: e.until, reason: e.reason, failures: e.failures })
        break
      case 'BanLifted':
        out.push({ ...base, type: 'unban', until: 0, reason: e.reason, failures: 0 })
        break
      case 'BanExpired':
        out.push({ ...base, type: 'unban', until: 0, reason: 'expired', failures: 0 })
        break
      default:
        break
    }
  })
  return out
}
