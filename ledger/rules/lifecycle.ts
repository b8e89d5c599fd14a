// How long things last: ban lengths for repeat offenders, and when the state
// of an address may be forgotten (R2: memory stays bounded).
import type { AddressState, JailPolicy, Millis } from './types.js'

export const EMPTY_STATE: AddressState = Object.freeze({
  failures: Object.freeze([]) as readonly Millis[],
  graceUntil: 0,
  graceFailures: 0,
  ban: null,
  bans: 0,
  lastBanEnd: 0,
})

/** bantime x factor^repeat, capped at the increment's max (bantime_increment). */
export function banLength(policy: JailPolicy, repeat: number): Millis {
  const inc = policy.increment
  if (inc === null || repeat === 0) return policy.bantime
  const scaled = policy.bantime * Math.pow(inc.factor, repeat)
  return Number.isFinite(scaled) ? Math.min(Math.round(scaled), inc.max) : inc.max
}

/** How long a past ban is remembered, for repeat-offender lengths. */
function banMemory(policy: JailPolicy): Millis {
  return policy.increment === null ? 0 : policy.increment.max
}

function lastFailure(s: AddressState): Millis {
  return s.failures.length === 0 ? 0 : (s.failures[s.failures.length - 1] ?? 0)
}

/** The next time something about `s` changes by itself: its ban ends, or it
 *  becomes forgettable. */
export function nextDue(s: AddressState, policy: JailPolicy): Millis {
  if (s.ban !== null) return s.ban.until
  const counter = s.failures.length === 0 ? 0 : lastFailure(s) + policy.findtime
  const memory = s.bans === 0 ? 0 : s.lastBanEnd + banMemory(policy)
  return Math.max(counter, s.graceUntil, memory)
}

/** True when nothing in `s` matters any more at `t`. */
export function forgettable(s: AddressState, policy: JailPolicy, t: Millis): boolean {
  return s.ban === null && nextDue(s, policy) <= t
}

/** True when `s` holds nothing at all (a fresh address). */
export function isEmptyState(s: AddressState): boolean {
  return s.ban === null && s.failures.length === 0 && s.graceUntil === 0 && s.bans === 0 && s.lastBanEnd === 0
}

/** Counts of one jail's tracked addresses by where they stand at a time, as
 *  `banledger status` shows them (fail2ban-client status: currently failed,
 *  currently banned). */
export type JailStanding = { readonly jail: string; tracked: number; banned: number; failing: number; grace: number }

/** Counts `s`, a tracked address of `counts.jail`, at `at`: banned while its
 *  ban lasts, else failing while a counted failure is inside findtime; in
 *  grace (either way) while its grace window is open. */
export function countStanding(counts: JailStanding, s: AddressState, policy: JailPolicy, at: Millis): void {
  counts.tracked++
  if (s.ban !== null && s.ban.until > at) counts.banned++
  else if (s.failures.length > 0 && lastFailure(s) > at - policy.findtime) counts.failing++
  if (s.graceUntil > at) counts.grace++
}
