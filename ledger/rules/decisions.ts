// Decisions: the part of an entry's events that workers act on.
import type { Decision, DecisionReason, DecisionType, DomainEvent, LedgerEntry, Millis } from './types.js'

/** The bans and unbans an entry caused, with deterministic ids "<seq>.<i>". */
export function decisionsOf(entry: LedgerEntry): Decision[] {
  const out: Decision[] = []
  pushDecisions(entry, out)
  return out
}

/** decisionsOf(entry), appended to `out`. The id and the decision are made
 *  only for the events that are decisions (most are failures): the ledger
 *  does this for every entry it appends. */
export function pushDecisions(entry: LedgerEntry, out: Decision[]): void {
  const events = entry.events
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as DomainEvent
    switch (e.type) {
      case 'BanIssued':
        out.push(decision(entry.seq, i, e, 'ban', e.until, e.reason, e.failures))
        break
      case 'BanLifted':
        out.push(decision(entry.seq, i, e, 'unban', 0, e.reason, 0))
        break
      case 'BanExpired':
        out.push(decision(entry.seq, i, e, 'unban', 0, 'expired', 0))
        break
      default:
        break
    }
  }
}

function decision(
  seq: number, i: number, e: DomainEvent, type: DecisionType, until: Millis, reason: DecisionReason, failures: number,
): Decision {
  return { id: `${seq}.${i}`, jail: e.jail, ip: e.ip, at: e.at, seq, type, until, reason, failures }
}
