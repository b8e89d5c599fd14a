// The one HTTP client of the channels, on node:https (node:http only for a
// loopback webhook). Certificates are always verified (`rejectUnauthorized`
// is not an option here); the trust store is the system one plus, when
// configured, an extra CA. One connection per request (no keep-alive: a
// notifier sends a few messages an hour), a deadline on the whole exchange.
import http from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import https from 'node:https'
import tls from 'node:tls'
import type { Millis } from '../../../ledger/rules/types.js'
import { describeNetError } from './net-errors.js'

/** PEM certificates of the CAs a channel trusts. */
export type TrustStore = readonly string[]

/** Node's bundled CA list (`tls.rootCertificates`, Mozilla's) plus `extraPem`,
 *  the contents of `ca_file`. Passing `ca` replaces Node's default store,
 *  hence the concatenation. Throws a TypeError when `extraPem` holds no
 *  usable certificate. */
export function trustStore(extraPem: string | null): TrustStore {
  if (extraPem === null) return tls.rootCertificates
  if (!extraPem.includes('-----BEGIN CERTIFICATE-----')) throw new TypeError('the CA file holds no PEM certificate')
  try {
    tls.createSecureContext({ ca: extraPem })
  } catch (err) {
    throw new TypeError(`the CA file holds an unreadable certificate: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  return [...tls.rootCertificates, extraPem]
}

export type HttpRequest = Readonly<{
  method: 'GET' | 'POST'
  url: URL
  headers?: Readonly<Record<string, string>>
  body?: string
  /** Deadline for the whole exchange, connection to last byte. */
  timeout: Millis
  ca: TrustStore
  /** Aborts the request (the channel is closing). */
  signal?: AbortSignal
}>

export type HttpOutcome =
  | Readonly<{ ok: true; status: number; headers: IncomingHttpHeaders; body: string }>
  /** No HTTP answer: network, TLS, timeout or abort. `reason` names the host, never the URL's query. */
  | Readonly<{ ok: false; reason: string; tls: boolean }>

/** Bodies are read up to this many bytes, for messages; the rest is dropped. */
const MAX_BODY = 4096

/** Resolves, never rejects. */
export function httpRequest(req: HttpRequest): Promise<HttpOutcome> {
  const target = req.url.host
  return new Promise((resolve) => {
    let settled = false
    const finish = (outcome: HttpOutcome) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.signal?.removeEventListener('abort', onAbort)
      resolve(outcome)
    }
    const headers = { 'User-Agent': 'banledger', ...req.headers }
    const options = { method: req.method, headers, agent: false as const }
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = []
      let size = 0
      const done = () => finish({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') })
      res.on('data', (chunk: Buffer) => {
        if (size < MAX_BODY) chunks.push(chunk.subarray(0, MAX_BODY - size))
        size += chunk.length
        if (size >= MAX_BODY) {
          done()
          res.destroy()
        }
      })
      res.on('end', done)
      // A body cut short still carries its status.
      res.on('error', done)
    }
    const request = req.url.protocol === 'https:'
      ? https.request(req.url, { ...options, ca: [...req.ca], rejectUnauthorized: true, minVersion: 'TLSv1.2' }, onResponse)
      : http.request(req.url, options, onResponse)
    const fail = (reason: string) => {
      finish({ ok: false, reason, tls: false })
      request.destroy()
    }
    const timer = setTimeout(() => fail(`no answer from ${target} within ${req.timeout} ms`), req.timeout)
    const onAbort = () => fail(`request to ${target} aborted: the channel is closing`)
    if (req.signal?.aborted === true) onAbort()
    req.signal?.addEventListener('abort', onAbort)
    request.on('error', (err) => finish({ ok: false, ...describeNetError(err, target) }))
    request.end(req.body)
  })
}

/** Milliseconds from a Retry-After header (seconds or an HTTP date), at most
 *  a day; null when absent or unreadable. */
export function retryAfter(headers: IncomingHttpHeaders, now: Millis): Millis | null {
  const value = headers['retry-after']
  if (typeof value !== 'string') return null
  const ms = /^\s*\d{1,9}\s*$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 86_400_000) : null
}
