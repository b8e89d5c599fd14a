// A JSON POST per message, signed, for third parties (the design card's
// "event subscription"):
//   POST <url with {jail} {ip} {type} of the first notice, URL-encoded>
//   Content-Type: application/json
//   Idempotency-Key: <stable across re-sends: receivers drop duplicates>
//   X-Banledger-Signature: sha256=<hex HMAC-SHA256 of the exact body>
//   {"decisions":[{type,jail,ip,at,until,reason,seq,failures,id}],"host":...}
// Answers: 2xx sent; 408, 429, 5xx, network, TLS and timeouts retry (with the
// Retry-After the receiver gave, else `after: 0`: "use your backoff", which
// is the outbox's); 3xx (redirects are not followed) and other 4xx failed.
// Reasons name the URL's origin only: a path may hold a token.
import { createHmac } from 'node:crypto'
import type { Millis } from '../../../ledger/rules/types.js'
import type { Channel, DeliveryResult, Notice } from '../channel.js'
import { redactor } from '../secrets.js'
import { httpRequest, retryAfter, trustStore } from './http-client.js'
import { neverRejects } from './never-rejects.js'
import { clean, isoTime } from './notice-text.js'

export type WebhookChannelOptions = Readonly<{
  name: string
  /** https (http only towards loopback, as the config allows); may hold {jail}, {ip}, {type}. */
  url: string
  /** The HMAC key (already read by readSecret). */
  secret: string
  extraCa?: string | null
  /** Default 30 s. */
  timeout?: Millis
  /** For Retry-After dates. */
  now: () => Millis
}>

/** The exact body sent (and signed). */
export function webhookBody(notices: readonly Notice[]): string {
  return JSON.stringify({
    decisions: notices.map(({ decision: d }) => ({
      type: d.type, jail: d.jail, ip: d.ip, at: isoTime(d.at), until: isoTime(d.until),
      reason: d.reason, seq: d.seq, failures: d.failures, id: d.id,
    })),
    host: notices[0]?.host ?? null,
  })
}

/** `sha256=<hex>`: what a receiver recomputes over the raw body to check it. */
export function webhookSignature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`
}

/** The URL for a message: placeholders replaced by the first notice's values, each encodeURIComponent'ed. */
export function expandUrl(template: string, notice: Notice): URL {
  const values: Record<string, string> = { jail: notice.decision.jail, ip: notice.decision.ip, type: notice.decision.type }
  return new URL(template.replace(/\{(jail|ip|type)\}/g, (_, key: string) => encodeURIComponent(values[key] ?? '')))
}

export function webhookChannel(opts: WebhookChannelOptions): Channel {
  const probe = new URL(opts.url.replace(/\{(jail|ip|type)\}/g, 'x'))
  if (probe.protocol !== 'https:' && probe.protocol !== 'http:') throw new TypeError(`webhook URL must be https, got ${probe.protocol}`)
  const ca = trustStore(opts.extraCa ?? null)
  const redact = redactor([opts.secret])
  const timeout = opts.timeout ?? 30_000
  const closing = new AbortController()
  const retry = (after: Millis, reason: string): DeliveryResult => ({ status: 'retry', after, reason: redact(reason) })

  return {
    name: opts.name,
    kind: 'webhook',
    deliver: neverRejects(redact, async (notices, { idempotencyKey }) => {
      const first = notices[0]
      if (first === undefined) return { status: 'sent' }
      if (closing.signal.aborted) return retry(0, 'the channel is closed')
      const url = expandUrl(opts.url, first)
      const body = webhookBody(notices)
      const headers = {
        'Content-Type': 'application/json',
        'Content-Length': String(Buffer.byteLength(body)),
        'Idempotency-Key': idempotencyKey,
        'X-Banledger-Signature': webhookSignature(body, opts.secret),
      }
      const outcome = await httpRequest({ method: 'POST', url, headers, body, timeout, ca, signal: closing.signal })
      const where = `webhook ${url.origin}`
      if (!outcome.ok) return retry(0, `${where}: ${outcome.reason}`)
      const { status } = outcome
      if (status >= 200 && status < 300) return { status: 'sent' }
      const said = outcome.body.trim() === '' ? '' : `: ${clean(outcome.body.trim(), 200)}`
      if (status === 408 || status === 429 || status >= 500) {
        return retry(retryAfter(outcome.headers, opts.now()) ?? 0, `${where} answered HTTP ${status}${said}`)
      }
      const why = status >= 300 && status < 400 ? ' (redirects are not followed: fix the url)' : ''
      return { status: 'failed', reason: redact(`${where} answered HTTP ${status}${why}${said}`) }
    }),
    async close() {
      closing.abort()
    },
  }
}
