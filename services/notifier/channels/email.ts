// Mail through nodemailer (R14): SMTP (STARTTLS required, implicit TLS, or
// none for a local relay) with optional login, or a local sendmail binary.
// Certificates are always verified against the system CAs plus `extraCa`.
//
// Results:
//   sent      the server took the message (250), or sendmail exited 0
//   failed    a permanent SMTP refusal (5xx but 503); sendmail exit 64, 65,
//             67 or 68 (usage, data, no such user, no such host)
//   disabled  the server refused the login (5xx to AUTH); sendmail missing
//             or not executable
//   retry     4xx, network, TLS, timeouts, any other sendmail failure; with
//             `after: 0`, "use your backoff" (the outbox's job)
// The Message-ID comes from the idempotency key, so a re-sent message is
// recognisably the same one. Reasons are redacted of the password.
import { createTransport } from 'nodemailer'
import type { Millis } from '../../../ledger/rules/types.js'
import type { Channel, DeliveryResult } from '../channel.js'
import { redactor } from '../secrets.js'
import { composeEmail } from './email-format.js'
import type { EmailFormat } from './email-format.js'
import { trustStore } from './http-client.js'
import { describeNetError } from './net-errors.js'
import { neverRejects } from './never-rejects.js'
import { clean } from './notice-text.js'

export type SmtpSecurity = 'starttls' | 'tls' | 'none'

export type EmailTransportOptions =
  | Readonly<{ kind: 'smtp'; host: string; port: number; security: SmtpSecurity; auth: Readonly<{ user: string; pass: string }> | null }>
  | Readonly<{ kind: 'sendmail'; path: string }>

export type EmailChannelOptions = Readonly<{
  name: string
  format: EmailFormat
  /** Bare address; the display name is `banledger`, or `DenyHosts` in that format. */
  from: string
  to: readonly string[]
  /** Named in DenyHosts' report. Default /etc/hosts.deny. */
  target?: string
  transport: EmailTransportOptions
  extraCa?: string | null
  /** Connection, greeting and idle limits. Default 30 s. */
  timeout?: Millis
  /** The Date header. */
  now: () => Millis
}>

/** sendmail's exit codes (sysexits.h) that say the message itself is wrong. */
const SENDMAIL_PERMANENT = new Set([64, 65, 67, 68])

export function emailChannel(opts: EmailChannelOptions): Channel {
  const spec = opts.transport
  const timeout = opts.timeout ?? 30_000
  const redact = redactor(spec.kind === 'smtp' && spec.auth !== null ? [spec.auth.pass] : [])
  const where = spec.kind === 'smtp' ? `SMTP server ${spec.host}:${spec.port}` : `sendmail ${spec.path}`
  const transporter = spec.kind === 'smtp'
    ? createTransport({
      host: spec.host,
      port: spec.port,
      secure: spec.security === 'tls',
      requireTLS: spec.security === 'starttls',
      ignoreTLS: spec.security === 'none',
      ...(spec.auth === null ? {} : { auth: { user: spec.auth.user, pass: spec.auth.pass } }),
      tls: { ca: [...trustStore(opts.extraCa ?? null)], rejectUnauthorized: true, minVersion: 'TLSv1.2' },
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
      dnsTimeout: timeout,
      logger: false,
    })
    : createTransport({ sendmail: true, path: spec.path, newline: 'unix', logger: false })
  const domain = opts.from.slice(opts.from.lastIndexOf('@') + 1)
  let closed = false

  const result = (status: 'retry' | 'failed' | 'disabled', reason: string): DeliveryResult =>
    status === 'retry' ? { status, after: 0, reason: redact(reason) } : { status, reason: redact(reason) }

  function classify(err: unknown): DeliveryResult {
    const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; responseCode?: unknown; response?: unknown; message?: unknown }
    const said = typeof e.response === 'string' ? clean(e.response, 300) : clean(String(e.message ?? err), 300)
    const reply = typeof e.responseCode === 'number' ? e.responseCode : null
    if (spec.kind === 'sendmail') {
      if (e.code === 'ENOENT' || e.code === 'EACCES') return result('disabled', `${where} cannot be run (${e.code})`)
      const exit = /exited with code (\d+)/.exec(said)?.[1]
      if (exit === '127') return result('disabled', `${where}: ${said}`)
      if (exit !== undefined && SENDMAIL_PERMANENT.has(Number(exit))) return result('failed', `${where} refused the message: ${said}`)
      return result('retry', `${where} failed: ${said}`)
    }
    if (reply !== null && reply >= 500 && reply !== 503) {
      if (e.code === 'EAUTH') return result('disabled', `${where} refused the login: ${said}`)
      return result('failed', `${where} refused the message: ${said}`)
    }
    if (reply !== null) return result('retry', `${where} answered: ${said}`)
    if (e.code === 'ENOAUTH' || e.code === 'ECONFIG') return result('disabled', `${where}: ${said}`)
    return result('retry', describeNetError(err, where).reason)
  }

  return {
    name: opts.name,
    kind: 'email',
    deliver: neverRejects(redact, async (notices, { idempotencyKey }) => {
      if (closed) return result('retry', 'the channel is closed')
      const mail = composeEmail(notices, opts.format, opts.target ?? '/etc/hosts.deny')
      if (mail === null) return { status: 'sent' }
      const id = idempotencyKey.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 128)
      try {
        await transporter.sendMail({
          from: { name: mail.fromName, address: opts.from },
          to: [...opts.to],
          subject: mail.subject,
          text: mail.text,
          date: new Date(opts.now()),
          messageId: `<banledger.${id}@${domain}>`,
        })
        return { status: 'sent' }
      } catch (err) {
        return classify(err)
      }
    }),
    async close() {
      if (closed) return
      closed = true
      transporter.close()
    },
  }
}
