// SMS through Free Mobile's notification API (S1, seed 000):
//   GET <base>/sendmsg?user=<id>&pass=<key>&msg=<text>
// Every parameter goes through encodeURIComponent (S2: `%`, `&`, `#`, `+`,
// accents, emoji and newlines arrive intact). The answer is checked (S5):
//   200 (2xx)    sent
//   400          failed: a parameter is missing, so a bug; dropped and logged
//   402          retry with the channel's backoff (its retry.initial defaults
//                to 60 s for Free Mobile): too many SMS in too little time;
//                the next attempt folds what is pending into one digest
//   403          disabled: wrong credentials or the option is off
//   500, other,  retry with `after: 0`, meaning "use your backoff"
//   network, TLS
// Backoff (exponential from retry.initial to retry.max) is the outbox's job;
// `after` is only the earliest time this channel suggests.
// The credentials ride in the URL: every reason returned is redacted.
import type { Millis } from '../../../ledger/rules/types.js'
import type { Channel, DeliveryResult, Notice } from '../channel.js'
import { redactor } from '../secrets.js'
import { httpRequest, trustStore } from './http-client.js'
import { neverRejects } from './never-rejects.js'
import { clean, countDecisions } from './notice-text.js'

export const FREEMOBILE_DEFAULT_BASE_URL = 'https://smsapi.free-mobile.fr'
/** A digest SMS stops listing decisions near this length. */
const MAX_SMS_TEXT = 900

export type FreeMobileChannelOptions = Readonly<{
  name: string
  /** The account's login (already read by readSecret). */
  user: string
  /** The API key of the SMS notification option (already read). */
  pass: string
  /** Default https://smsapi.free-mobile.fr; must be https. */
  baseUrl?: string
  /** Contents of `ca_file`, trusted besides the system CAs. */
  extraCa?: string | null
  /** Default 30 s. */
  timeout?: Millis
  /** The message for some notices; default smsText. */
  text?: (notices: readonly Notice[]) => string
}>

/** `banledger (web1): ban 203.0.113.7 (ssh)`; a digest lists several
 *  decisions, `banledger (web1): 3 bans: ban 203.0.113.7 (ssh), ban ...`,
 *  and ends with `and N more` past ~900 characters. */
export function smsText(notices: readonly Notice[]): string {
  const host = clean(notices[0]?.host ?? '', 64)
  const items = notices.map(({ decision: d }) => `${d.type} ${d.ip} (${clean(d.jail, 32)})`)
  const head = notices.length === 1 ? `banledger (${host}): ` : `banledger (${host}): ${countDecisions(notices)}: `
  let text = head
  for (const [index, item] of items.entries()) {
    const next = `${index === 0 ? '' : ', '}${item}`
    if (text.length + next.length > MAX_SMS_TEXT) return `${text}, and ${items.length - index} more`
    text += next
  }
  return text
}

export function freeMobileChannel(opts: FreeMobileChannelOptions): Channel {
  const base = new URL(opts.baseUrl ?? FREEMOBILE_DEFAULT_BASE_URL)
  if (base.protocol !== 'https:') throw new TypeError(`Free Mobile base URL must be https, got ${base.protocol}`)
  const ca = trustStore(opts.extraCa ?? null)
  const redact = redactor([opts.user, opts.pass])
  const timeout = opts.timeout ?? 30_000
  const text = opts.text ?? smsText
  const prefix = base.href.replace(/\/+$/, '')
  const closing = new AbortController()

  const result = (status: 'failed' | 'disabled', reason: string): DeliveryResult => ({ status, reason: redact(reason) })
  const retry = (after: Millis, reason: string): DeliveryResult => ({ status: 'retry', after, reason: redact(reason) })

  return {
    name: opts.name,
    kind: 'freemobile',
    deliver: neverRejects(redact, async (notices) => {
      if (notices.length === 0) return { status: 'sent' }
      if (closing.signal.aborted) return retry(0, 'the channel is closed')
      const query = `user=${encodeURIComponent(opts.user)}&pass=${encodeURIComponent(opts.pass)}&msg=${encodeURIComponent(text(notices))}`
      const url = new URL(`${prefix}/sendmsg?${query}`)
      const outcome = await httpRequest({ method: 'GET', url, timeout, ca, signal: closing.signal })
      if (!outcome.ok) return retry(0, `Free Mobile: ${outcome.reason}`)
      const { status } = outcome
      if (status >= 200 && status < 300) return { status: 'sent' }
      if (status === 400) return result('failed', `Free Mobile said a parameter is missing (400): a bug; GET ${url.href}`)
      if (status === 402) return retry(0, 'Free Mobile said too many SMS were sent in too little time (402)')
      if (status === 403) {
        return result('disabled', 'Free Mobile refused (403): wrong credentials or the SMS notification option is not enabled in the Free Mobile account')
      }
      if (status === 500) return retry(0, 'Free Mobile had a server error (500)')
      return retry(0, `Free Mobile answered an unexpected HTTP ${status}`)
    }),
    async close() {
      closing.abort()
    },
  }
}
