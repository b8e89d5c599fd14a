// What the next message of a channel is made of, and when to try again.
// Pure: no clock, no I/O; the worker passes `now` and the due entries.
import { createHash } from 'node:crypto'
import type { Millis } from '../../ledger/rules/types.js'
import type { OutboxEntry } from './outbox.js'

/** At most this many notices in one digest message. */
export const DIGEST_MAX = 20

export type Backoff = Readonly<{ initial: Millis; max: Millis }>

/** The idempotency key of a message about these entries: the entry's own id
 *  for one entry, else a hash of the ids (in order). Same entries, same key. */
export function messageKey(ids: readonly string[]): string {
  if (ids.length === 1) return ids[0] as string
  const h = createHash('sha256')
  for (const id of ids) h.update(id).update('\n')
  return `digest-${h.digest('hex').slice(0, 32)}`
}

export type NextMessage =
  /** Send these entries as one message under `key`. */
  | Readonly<{ send: readonly OutboxEntry[]; key: string }>
  /** Nothing to send before `at` (a digest still filling up). */
  | Readonly<{ waitUntil: Millis }>

/** The next message from `due` (a channel's due entries, oldest first, non-empty).
 *  - Entries already handed to the channel under a key (a crash came before
 *    the channel's answer was recorded) go again, as the same message, with
 *    the same key, whatever the settings are now.
 *  - After a retry (the oldest entry was tried before), one message for up
 *    to DIGEST_MAX entries, whatever the window: a channel that was down or
 *    throttled (Free Mobile 402) gets one digest, not a flood.
 *  - Else, digestWindow 0: one message per entry; digestWindow > 0: one
 *    message for up to DIGEST_MAX entries, once the oldest is
 *    `digestWindow` old or DIGEST_MAX are due. */
export function nextMessage(due: readonly OutboxEntry[], digestWindow: Millis, now: Millis): NextMessage {
  const head = due[0]
  if (head === undefined) throw new TypeError('nextMessage: no due entries')
  if (head.attemptKey !== '') {
    const again = takeWhile(due, e => e.attemptKey === head.attemptKey)
    return { send: again, key: head.attemptKey }
  }
  const retried = head.attempts > 0
  if (digestWindow <= 0 && !retried) return { send: [head], key: head.id }
  const fresh = takeWhile(due, e => e.attemptKey === '').slice(0, DIGEST_MAX)
  if (!retried && fresh.length < DIGEST_MAX && now < head.createdAt + digestWindow) return { waitUntil: head.createdAt + digestWindow }
  return { send: fresh, key: messageKey(fresh.map(e => e.id)) }
}

/** Delay before the next attempt after `attempts` attempts (>= 1): doubles
 *  from `initial`, capped at `max`; never shorter than what the channel asked. */
export function retryDelay(attempts: number, backoff: Backoff, channelAfter: Millis): Millis {
  const exp = Math.min(Math.max(attempts, 1) - 1, 40)
  const delay = Math.min(backoff.max, backoff.initial * 2 ** exp)
  return Math.max(delay, channelAfter)
}

function takeWhile<T>(xs: readonly T[], ok: (x: T) => boolean): T[] {
  const out: T[] = []
  for (const x of xs) {
    if (!ok(x)) break
    out.push(x)
  }
  return out
}
