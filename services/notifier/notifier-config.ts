// The `notify:` section of banledger.yaml: which channels get which
// decisions, and how to reach them. Parsed once into the typed values below
// (durations in ms, defaults applied); objects are strict.
//
// Credentials are never written in the config text (S4): `user`, `pass`,
// `password` and `secret` are `{ file: /abs/path }` or `{ env: NAME }`, read
// by secrets.ts when the notifier starts. SMTP `user` (a login name) may
// also be plain text. Issue messages follow ops/config/schema.ts (they say
// what was expected; `params.shown` when the message already shows the value)
// and never carry a secret: the issue input of an inline secret is replaced.
import { isIP } from 'node:net'
import { z } from 'zod'
import {
  absolutePath, duration, field, HOST_NAME, JAIL_NAME, JAIL_NAME_FORMS, list, parseSecretRef, SECRET_FORMS, secretRef, section, show,
} from '../../ops/config/schema-kit.js'
import type { DecisionType, Millis } from '../../ledger/rules/types.js'
import type { SecretRef } from './secrets.js'

export const CHANNEL_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/
export const DEFAULT_FREEMOBILE_URL = 'https://smsapi.free-mobile.fr'
export const URL_PLACEHOLDERS = ['jail', 'ip', 'type'] as const

export type RetryPolicy = Readonly<{ initial: Millis; max: Millis }>

type CommonChannelConfig = Readonly<{
  name: string
  on: readonly DecisionType[]
  /** null: every jail. */
  jails: readonly string[] | null
  retry: RetryPolicy
  /** An extra CA (PEM file) trusted besides the system ones; null for none. */
  caFile: string | null
  timeout: Millis
}>

export type SmtpTransportConfig = Readonly<{
  kind: 'smtp'
  host: string
  port: number
  security: 'starttls' | 'tls' | 'none'
  user: string | SecretRef | null
  password: SecretRef | null
}>
export type SendmailTransportConfig = Readonly<{ kind: 'sendmail'; path: string }>

export type EmailChannelConfig = CommonChannelConfig & Readonly<{
  type: 'email'
  format: 'plain' | 'denyhosts'
  from: string
  to: readonly string[]
  /** The file named in DenyHosts' "Added the following hosts to <target>:". */
  target: string
  transport: SmtpTransportConfig | SendmailTransportConfig
}>
export type FreeMobileChannelConfig = CommonChannelConfig & Readonly<{
  type: 'freemobile'
  user: SecretRef
  pass: SecretRef
  baseUrl: string
}>
export type WebhookChannelConfig = CommonChannelConfig & Readonly<{
  type: 'webhook'
  /** May hold {jail}, {ip}, {type}. */
  url: string
  secret: SecretRef
}>
export type ChannelConfig = EmailChannelConfig | FreeMobileChannelConfig | WebhookChannelConfig

export type NotifyConfig = Readonly<{
  /** 0: no digest, one message per notice. */
  digestWindow: Millis
  /** In the order written. */
  channels: readonly ChannelConfig[]
}>

// No leading `-`: sendmail would read the address as an option.
const EMAIL = /^(?!-)[^\s@<>()",;:\\[\]]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/
const email = (value: unknown) => (typeof value === 'string' && EMAIL.test(value) ? value : undefined)
const decisionType = (value: unknown) => (value === 'ban' || value === 'unban' ? value : undefined)
const jailName = (value: unknown) => (typeof value === 'string' && JAIL_NAME.test(value) ? value : undefined)

/** An SMTP login name: not a secret, so plain text is accepted too. */
const loginName = () =>
  field<string | SecretRef>((value, report) =>
    typeof value === 'string' && /^[^\r\n\0]{1,256}$/.test(value) ? value : parseSecretRef(value, report))

/** An https URL, or (`loopbackHttp`) an http one towards this host. */
function checkUrl(text: string, label: string, loopbackHttp: boolean): string | null {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return `expected an https:// URL for ${label}`
  }
  if (url.protocol !== 'https:' && !(loopbackHttp && url.protocol === 'http:' && isLoopback(url.hostname))) {
    return `expected an https:// URL for ${label}${loopbackHttp ? ' (http:// only towards 127.0.0.1, ::1 or localhost)' : ''}`
  }
  if (url.username !== '' || url.password !== '') return `credentials are never written in a URL: use ${SECRET_FORMS}`
  if (url.hash !== '') return `a URL for ${label} cannot have a #fragment`
  return null
}

export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '')
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'))
}

const retrySchema = section(
  { initial: duration({ min: 1000, max: 86_400_000 }).optional(), max: duration({ min: 1000, max: 7 * 86_400_000 }).optional() },
  'a mapping like { initial: 10s, max: 1h }',
)

const commonShape = {
  on: list(decisionType, 'ban or unban, or a list of them').optional(),
  jails: list(jailName, `jail names (${JAIL_NAME_FORMS})`).optional(),
  ca_file: absolutePath('the absolute path of a PEM file of CA certificates').optional(),
  retry: retrySchema.optional(),
  timeout: duration({ min: 100, max: 300_000 }).optional(),
}

const smtpSchema = section(
  {
    host: field<string>((v, report) => (typeof v === 'string' && (HOST_NAME.test(v) || isIP(v) !== 0) ? v : void report('expected a host name or an address'))),
    port: field<number>((v, report) => (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535 ? (v as number) : void report('expected a port from 1 to 65535'))).optional(),
    security: z.enum(['starttls', 'tls', 'none'], { error: 'expected starttls, tls or none' }).optional(),
    user: loginName().optional(),
    password: secretRef().optional(),
  },
  'a mapping like { host: smtp.example.org, port: 587, security: starttls }',
)

const emailSchema = section(
  {
    type: z.literal('email'),
    ...commonShape,
    format: z.enum(['plain', 'denyhosts'], { error: 'expected plain or denyhosts' }).optional(),
    from: field<string>((v, report) => email(v) ?? void report('expected a mail address like banledger@example.org')),
    to: list(email, 'a mail address or a list of them'),
    target: absolutePath().optional(),
    smtp: smtpSchema.optional(),
    sendmail: absolutePath('the absolute path of sendmail').optional(),
  },
  'a mapping of channel settings',
)

const freeMobileSchema = section(
  {
    type: z.literal('freemobile'),
    ...commonShape,
    user: secretRef(),
    pass: secretRef(),
    base_url: field<string>((v, report) => {
      const problem = typeof v === 'string' ? checkUrl(v, 'the Free Mobile API', false) : 'expected an https:// URL'
      if (problem === null && (new URL(v as string).search !== '')) return void report('base_url cannot have a ?query')
      return problem === null ? (v as string).replace(/\/+$/, '') : void report(problem)
    }).optional(),
  },
  'a mapping of channel settings',
)

const webhookSchema = section(
  {
    type: z.literal('webhook'),
    ...commonShape,
    url: field<string>((v, report) => {
      if (typeof v !== 'string') return void report('expected an https:// URL')
      const unknown = [...v.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]).filter((name) => !(URL_PLACEHOLDERS as readonly (string | undefined)[]).includes(name))
      if (unknown.length > 0) return void report(`unknown placeholder {${unknown[0] ?? ''}} in ${show(v)} (known: {jail}, {ip}, {type})`, { shown: true })
      const problem = checkUrl(v.replaceAll('{jail}', 'j').replaceAll('{ip}', '1').replaceAll('{type}', 't'), 'the webhook', true)
      return problem === null ? v : void report(problem)
    }),
    secret: secretRef(),
  },
  'a mapping of channel settings',
)

const channelSchema = z.discriminatedUnion('type', [emailSchema, freeMobileSchema, webhookSchema], {
  error: (issue) => (issue.code === 'invalid_union' || issue.code === 'invalid_type' ? 'expected a channel mapping with type: email, freemobile or webhook' : undefined),
})

type RawChannel = z.output<typeof channelSchema>
const SMTP_PORTS = { starttls: 587, tls: 465, none: 25 } as const

function toChannel(name: string, raw: RawChannel): ChannelConfig {
  const common = {
    name,
    on: raw.on ?? ['ban'],
    jails: raw.jails ?? null,
    // Free Mobile counts SMS over a short window (402): wait longer there.
    retry: { initial: raw.retry?.initial ?? (raw.type === 'freemobile' ? 60_000 : 10_000), max: raw.retry?.max ?? 3_600_000 },
    caFile: raw.ca_file ?? null,
    timeout: raw.timeout ?? 30_000,
  }
  switch (raw.type) {
    case 'email': {
      const smtp = raw.smtp
      const transport: EmailChannelConfig['transport'] = smtp === undefined
        ? { kind: 'sendmail', path: raw.sendmail ?? '' }
        : {
          kind: 'smtp', host: smtp.host, security: smtp.security ?? 'starttls',
          port: smtp.port ?? SMTP_PORTS[smtp.security ?? 'starttls'], user: smtp.user ?? null, password: smtp.password ?? null,
        }
      return { ...common, type: 'email', format: raw.format ?? 'plain', from: raw.from, to: raw.to, target: raw.target ?? '/etc/hosts.deny', transport }
    }
    case 'freemobile':
      return { ...common, type: 'freemobile', user: raw.user, pass: raw.pass, baseUrl: raw.base_url ?? DEFAULT_FREEMOBILE_URL }
    case 'webhook':
      return { ...common, type: 'webhook', url: raw.url, secret: raw.secret }
    default: {
      const never: never = raw
      throw new TypeError(`unknown channel type ${show(never)}`)
    }
  }
}

/** Problems that involve several keys of one channel, as [path, message]. */
function crossChecks(raw: RawChannel): [(string | number)[], string][] {
  const problems: [(string | number)[], string][] = []
  if (raw.retry?.initial !== undefined && raw.retry.max !== undefined && raw.retry.initial > raw.retry.max) {
    problems.push([['retry', 'initial'], 'retry.initial must not be longer than retry.max'])
  }
  if (raw.type !== 'email') return problems
  if ((raw.smtp === undefined) === (raw.sendmail === undefined)) {
    problems.push([[], 'an email channel needs exactly one of smtp: { host... } or sendmail: /usr/sbin/sendmail'])
  }
  const smtp = raw.smtp
  if (smtp !== undefined && (smtp.user === undefined) !== (smtp.password === undefined)) {
    problems.push([['smtp'], 'smtp user and password go together: give both or neither'])
  }
  if (smtp?.password !== undefined && smtp.security === 'none' && !isLoopback(smtp.host)) {
    problems.push([['smtp', 'security'], 'security: none would send the SMTP password in clear over the network: use starttls or tls'])
  }
  if (raw.format === 'denyhosts' && raw.on?.includes('unban') === true) {
    problems.push([['on'], "DenyHosts' report only lists added hosts: a denyhosts channel takes on: [ban]"])
  }
  return problems
}

const notifyShape = section(
  {
    digest_window: duration({ min: 0, max: 86_400_000, allowZero: true }).optional(),
    channels: z.record(
      z.string().regex(CHANNEL_NAME, { error: 'expected a channel name: lower-case letters, digits, _ and -, starting with a letter or digit, at most 32 characters' }),
      channelSchema,
    ).optional(),
  },
  'a mapping like { digest_window: 30s, channels: { mail: { type: email, ... } } }',
)

const SECRET_KEYS = new Set(['user', 'pass', 'password', 'secret'])

/** `value` fit to show in a config problem: the values of secret keys and
 *  the credentials of URLs replaced, so no issue input carries a secret. */
function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(/\/\/[^/@\s]*@/g, '//[redacted]@')
  if (typeof value !== 'object' || value === null || depth > 8) return value
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1))
  return Object.fromEntries(Object.entries(value).map(([key, item]) =>
    [key, SECRET_KEYS.has(key) && typeof item !== 'object' ? '[redacted]' : scrub(item, depth + 1)]))
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root
  for (const key of path) node = typeof node === 'object' && node !== null ? (node as Record<PropertyKey, unknown>)[key] : undefined
  return node
}

/** `notify:`; absent or null means no channel. Issues are those of
 *  ops/config/schema.ts, with inputs scrubbed of secrets, channel names
 *  checked, and cross-field problems reported once the fields are valid. */
export const notifySchema = z.unknown().transform((value, ctx): NotifyConfig => {
  const result = notifyShape.nullable().optional().safeParse(value, { reportInput: true })
  if (!result.success) {
    for (const issue of result.error.issues) {
      if (issue.code === 'invalid_key') {
        ctx.addIssue({ code: 'custom', message: issue.issues[0]?.message ?? 'expected a channel name', path: issue.path, input: issue.input })
      } else if (issue.code === 'invalid_union' && issue.path[issue.path.length - 1] === 'type') {
        ctx.addIssue({ ...issue, message: 'expected type: email, freemobile or webhook', input: scrub(valueAt(value, issue.path)) })
      } else {
        ctx.addIssue({ ...issue, input: scrub(issue.input) } as Parameters<typeof ctx.addIssue>[0])
      }
    }
    return z.NEVER
  }
  const channels = Object.entries(result.data?.channels ?? {})
  let failed = false
  for (const [name, raw] of channels) {
    for (const [path, message] of crossChecks(raw)) {
      failed = true
      const at = ['channels', name, ...path]
      ctx.addIssue({ code: 'custom', message, path: at, input: scrub(valueAt(value, at)), params: { shown: true } })
    }
  }
  if (failed) return z.NEVER
  return { digestWindow: result.data?.digest_window ?? 0, channels: channels.map(([name, raw]) => toChannel(name, raw)) }
})

export const NOTIFY_KNOWN_KEYS = Object.freeze({
  notify: Object.freeze(Object.keys(notifyShape.shape)),
  email: Object.freeze(Object.keys(emailSchema.shape)),
  freemobile: Object.freeze(Object.keys(freeMobileSchema.shape)),
  webhook: Object.freeze(Object.keys(webhookSchema.shape)),
  smtp: Object.freeze(Object.keys(smtpSchema.shape)),
  retry: Object.freeze(Object.keys(retrySchema.shape)),
})
