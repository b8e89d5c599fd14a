// The notification port: one adapter per channel kind (email, Free Mobile
// SMS, webhook), each behind this small interface. A channel delivers one
// message for one or several notices (a digest) and says what happened; it
// never throws and never retries by itself: the outbox decides when to try
// again, from the result.
import type { Decision, Millis } from '../../ledger/rules/types.js'

/** What a message is about: one ban or unban decision. */
export type Notice = Readonly<{
  decision: Decision
  /** The host that runs this notifier (for the message text). */
  host: string
}>

export type DeliveryResult =
  /** The channel confirmed (SMTP 250, HTTP 2xx). */
  | Readonly<{ status: 'sent' }>
  /** Transient (network, 5xx, Free Mobile 402 "too many"): try again after `after` ms, at the earliest. */
  | Readonly<{ status: 'retry'; after: Millis; reason: string }>
  /** The channel cannot work until its configuration changes (Free Mobile 403: wrong credentials or service off). */
  | Readonly<{ status: 'disabled'; reason: string }>
  /** This message can never be delivered (Free Mobile 400: a bug); it is dropped and logged. */
  | Readonly<{ status: 'failed'; reason: string }>

export type DeliveryOptions = Readonly<{
  /** Stable across re-sends of the same message (outbox entry id): receivers drop duplicates with it. */
  idempotencyKey: string
}>

export type ChannelKind = 'email' | 'freemobile' | 'webhook'

export interface Channel {
  /** The channel's name in the config (e.g. `mail`, `sms`, `hook`). */
  readonly name: string
  readonly kind: ChannelKind
  /** Sends one message about `notices` (more than one: a digest). Resolves, never rejects. */
  deliver(notices: readonly Notice[], opts: DeliveryOptions): Promise<DeliveryResult>
  /** Idempotent. */
  close(): Promise<void>
}
