// Which times the ledger trusts, for inputs from other hosts (the bus).
// A log line carries the time its host wrote; a watcher adds the time it
// read the line, on its own clock. The ledger compares that receive time
// with its own clock when the event arrives: a receive time ahead of the
// ledger by more than `maxSkew` means that host's clock runs fast, so its
// times are moved back by that lead. A time still ahead of the ledger by
// more than `maxSkew` is counted at the ledger's own time instead (a
// failure still counts, but cannot make a ban start or last in the future).
// A time that no clock could give (before 2000, more than a year ahead) is
// refused. Late arrivals are not corrected: a backlog (a bus outage, a
// watcher catching up) looks the same, and the rules already ignore
// failures older than findtime.
import type { BusInput, Millis } from './types.js'

/** No log of a running server is older than this (2000-01-01T00:00:00Z). */
export const EARLIEST_PLAUSIBLE: Millis = 946_684_800_000
/** Nor further in the future than this, from the ledger's clock. */
export const LATEST_PLAUSIBLE_AHEAD: Millis = 366 * 86_400_000

export type Admission<T> =
  | Readonly<{ ok: true; input: T; corrected: Millis }>
  | Readonly<{ ok: false; why: string }>

/** Whether to take `input` at `now`, and at which time. `corrected` is how
 *  far its time was moved back (0: taken as written). */
export function admit<T extends BusInput>(input: T, now: Millis, maxSkew: Millis): Admission<T> {
  const { at } = input
  if (!Number.isSafeInteger(at) || at < EARLIEST_PLAUSIBLE || at > now + LATEST_PLAUSIBLE_AHEAD) {
    return { ok: false, why: `time ${String(at)} is not a plausible time (before 2000 or over a year ahead)` }
  }
  const received = input.type === 'log' ? input.receivedAt ?? 0 : 0
  const lead = received > now + maxSkew ? received - now : 0
  const shifted = at - lead
  const taken = shifted > now + maxSkew ? now : shifted
  return taken === at ? { ok: true, input, corrected: 0 } : { ok: true, input: { ...input, at: taken }, corrected: at - taken }
}
