// A real local webhook for notifier tests and benchmarks: a node:http
// receiver on 127.0.0.1 (port 0) that records every message, and a minimal
// webhook Channel that POSTs to it. Independent of the real channels.
import { createHmac, timingSafeEqual } from 'node:crypto'
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Channel, DeliveryResult, Notice } from '../../services/notifier/channel.js'

export type Received = Readonly<{ key: string; ids: readonly string[]; at: number }>

/** The real webhook channel signs its body: X-Banledger-Signature: sha256=<hex HMAC>. */
export function signatureOk(secret: string, body: Buffer, header: string | string[] | undefined): boolean {
  const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`)
  const got = Buffer.from(typeof header === 'string' ? header : '')
  return got.length === want.length && timingSafeEqual(got, want)
}

/** ok: 200. down: 503. hang: no answer until the mode changes (then 503,
 *  unrecorded: a receiver that hangs never processed the message). */
export type ReceiverMode = 'ok' | 'down' | 'hang'

export class WebhookReceiver {
  readonly received: Received[] = []
  /** Every delivery attempt that reached the receiver, whatever the answer. */
  requests = 0
  onReceive: ((r: Received) => void) | null = null
  /** Answer (and record) this long after a request arrived. */
  delayMs = 0
  /** When set, a message must carry a valid HMAC signature with it (else 401, unrecorded). */
  secret: string | null = null
  /** Messages refused for a bad or missing signature. */
  badSignatures = 0
  #mode: ReceiverMode = 'ok'
  #held: (() => void)[] = []

  private constructor(readonly server: ReturnType<typeof createServer>, public url = '') {}

  static async start(): Promise<WebhookReceiver> {
    const r = new WebhookReceiver(createServer((req, res) => r.#handle(req, res)))
    await new Promise<void>(resolve => r.server.listen(0, '127.0.0.1', resolve))
    r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/hook`
    return r
  }

  get mode(): ReceiverMode { return this.#mode }
  set mode(m: ReceiverMode) {
    this.#mode = m
    if (m !== 'hang') for (const release of this.#held.splice(0)) release()
  }

  /** Decision id -> idempotency keys of the messages that carried it, in order. */
  byDecision(): Map<string, string[]> {
    const out = new Map<string, string[]>()
    for (const r of this.received) for (const id of r.ids) out.set(id, [...(out.get(id) ?? []), r.key])
    return out
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      this.requests++
      if (this.#mode === 'hang') return void this.#held.push(() => res.writeHead(503).end('was hanging'))
      if (this.#mode === 'down') return void res.writeHead(503).end('down')
      if (this.delayMs > 0) return void setTimeout(() => this.#accept(req, chunks, res), this.delayMs)
      this.#accept(req, chunks, res)
    })
  }

  #accept(req: IncomingMessage, chunks: Buffer[], res: ServerResponse): void {
    const raw = Buffer.concat(chunks)
    if (this.secret !== null && !signatureOk(this.secret, raw, req.headers['x-banledger-signature'])) {
      this.badSignatures++
      return void res.writeHead(401).end('bad signature')
    }
    // The minimal channel below sends {notices}; the real webhook channel {decisions}.
    const body = JSON.parse(raw.toString('utf8')) as { notices?: { id: string }[]; decisions?: { id: string }[] }
    const items = body.decisions ?? body.notices ?? []
    const r = { key: String(req.headers['idempotency-key']), ids: items.map(n => n.id), at: performance.now() }
    this.received.push(r)
    this.onReceive?.(r)
    res.writeHead(200).end('ok')
  }

  async close(): Promise<void> {
    this.#held.length = 0
    this.server.closeAllConnections()
    await new Promise(resolve => this.server.close(resolve))
  }
}

/** A minimal webhook channel: POST {notices} with an Idempotency-Key header.
 *  2xx: sent; 5xx, network error or timeout: retry; other statuses: failed. */
export function webhookChannel(name: string, url: string, timeout = 2000): Channel & { attempts: number } {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 })
  const ch = {
    name, kind: 'webhook' as const, attempts: 0,
    deliver(notices: readonly Notice[], opts: { idempotencyKey: string }): Promise<DeliveryResult> {
      ch.attempts++
      const body = JSON.stringify({
        notices: notices.map(n => ({ id: n.decision.id, type: n.decision.type, jail: n.decision.jail, ip: n.decision.ip, host: n.host })),
      })
      return new Promise(resolve => {
        const req = request(url, {
          method: 'POST', agent, timeout,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'idempotency-key': opts.idempotencyKey },
        }, res => {
          res.resume()
          res.on('end', () => {
            const s = res.statusCode ?? 0
            if (s >= 200 && s < 300) resolve({ status: 'sent' })
            else if (s >= 500) resolve({ status: 'retry', after: 0, reason: `HTTP ${s}` })
            else resolve({ status: 'failed', reason: `HTTP ${s}` })
          })
        })
        req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)))
        req.on('error', err => resolve({ status: 'retry', after: 0, reason: err.message }))
        req.end(body)
      })
    },
    async close(): Promise<void> { agent.destroy() },
  }
  return ch
}
