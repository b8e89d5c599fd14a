// evolve: how an event changes the state of its (jail, address). A pure
// reducer that never rejects a recorded event. Entries are applied once each
// (the store tracks the sequence applied); clears, lifts and expiries are
// idempotent in themselves, counted failures are not (three failures in the
// same second are three failures).
import { produce, type Draft } from 'immer'
import { EMPTY_STATE, isEmptyState } from './lifecycle.js'
import type { AddressState, DomainEvent } from './types.js'

/** Applies `e` to a mutable state: an immer draft live, a plain object in replay. */
export function applyEvent(s: Draft<AddressState>, e: DomainEvent): void {
  switch (e.type) {
    case 'FailureRecorded':
      if (e.outcome === 'counted') {
        const kept = s.failures.filter(f => f > e.windowStart)
        let i = kept.length
        while (i > 0 && (kept[i - 1] ?? 0) > e.at) i--
        kept.splice(i, 0, e.at)
        s.failures = kept
      } else if (e.outcome === 'absorbed') {
        s.graceFailures += 1
      }
      return
    case 'CounterCleared':
      if (s.failures.length > 0) s.failures = []
      return
    case 'GraceOpened':
      s.graceUntil = Math.max(s.graceUntil, e.until)
      s.graceFailures = 0
      return
    case 'BanIssued':
      s.ban = { since: e.at, until: e.until, reason: e.reason, repeat: e.repeat }
      s.bans = Math.max(s.bans, e.repeat + 1)
      if (s.failures.length > 0) s.failures = []
      return
    case 'BanLifted':
    case 'BanExpired':
      if (s.ban !== null) {
        s.ban = null
        s.lastBanEnd = Math.max(s.lastBanEnd, e.at)
      }
      return
    case 'StateForgotten':
      Object.assign(s, EMPTY_STATE, { failures: [] })
      return
    case 'NoEffect':
      return
    default: {
      const never: never = e
      throw new TypeError(`unknown event ${JSON.stringify(never)}`)
    }
  }
}

/** The state after `events` (all of one jail and address), or undefined when
 *  the address is forgotten or holds nothing. */
export function evolve(state: AddressState | undefined, events: readonly DomainEvent[]): AddressState | undefined {
  const next = produce(state ?? EMPTY_STATE, draft => {
    for (const e of events) applyEvent(draft, e)
  })
  return isEmptyState(next) ? undefined : next
}
