// The `bus:` section of banledger.yaml: `embedded` (the default: one host,
// one process, no server) or `{ nats: {...} }` for a fleet on NATS
// JetStream. Credentials follow the notifier's rule (S4): `{ file }` or
// `{ env }`, never the value in the config text.
import { z } from 'zod'
import type { Millis } from '../../ledger/rules/types.js'
import { absolutePath, duration, field, list, secretRef, section, text } from '../../ops/config/schema-kit.js'
import type { SecretRef } from '../notifier/secrets.js'

export type NatsTls = Readonly<{
  /** CA certificates (PEM) that sign the servers' certificates; null: the system's. */
  caFile: string | null
  /** A client certificate and key, when the servers ask for one. */
  certFile: string | null
  keyFile: string | null
}>

export type NatsBusConfig = Readonly<{
  servers: readonly string[]
  user: string | null
  password: SecretRef | null
  token: SecretRef | null
  /** A NATS credentials file (JWT + nkey seed). */
  creds: string | null
  tls: NatsTls | null
  /** Inbox subjects of this process; null: `_INBOX.<host token>`, so a
   *  server can limit each host to its own replies. */
  inboxPrefix: string | null
  /** Subjects start with it: `<prefix>.events.<host>.<jail>`... */
  subjectPrefix: string
  /** Stream names start with it: `<PREFIX>_EVENTS`, `_LEDGER`, `_DECISIONS`. */
  streamPrefix: string
  /** How long the streams keep inputs and decisions (the ledger stream keeps every entry). */
  eventsMaxAge: Millis
  decisionsMaxAge: Millis
  /** Copies of each stream in a cluster (1, 3 or 5). */
  replicas: number
}>

export type BusConfig = Readonly<{ kind: 'embedded' }> | Readonly<{ kind: 'nats'; nats: NatsBusConfig }>

export const DEFAULT_SUBJECT_PREFIX = 'banledger'
export const DEFAULT_STREAM_PREFIX = 'BANLEDGER'
export const DEFAULT_STREAM_MAX_AGE: Millis = 7 * 86_400_000

const SERVER_URL = /^(nats|tls|wss?):\/\/[A-Za-z0-9.:[\]_-]{1,255}(:\d{1,5})?$/
const server = (v: unknown) => (typeof v === 'string' && SERVER_URL.test(v) && !v.includes('@') ? v : undefined)
const TOKEN = /^[A-Za-z0-9_-]{1,32}$/

const tlsSchema = section(
  {
    ca_file: absolutePath('the absolute path of a PEM file of CA certificates').optional(),
    cert_file: absolutePath('the absolute path of a PEM client certificate').optional(),
    key_file: absolutePath('the absolute path of a PEM private key').optional(),
  },
  'a mapping like { ca_file: /etc/banledger/nats-ca.pem }',
)

const natsSchema = section(
  {
    servers: list(server, 'a server URL like nats://10.0.0.1:4222 (credentials never in the URL)'),
    user: text(/^[A-Za-z0-9._@-]{1,128}$/, 'a user name (letters, digits, . _ @ -)').optional(),
    password: secretRef().optional(),
    token: secretRef().optional(),
    creds: absolutePath('the absolute path of a NATS credentials file').optional(),
    tls: tlsSchema.optional(),
    inbox_prefix: text(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_~-]+)*$/, 'subject tokens like _INBOX.web1').optional(),
    subject_prefix: text(TOKEN, 'one subject token (letters, digits, _ and -)').optional(),
    stream_prefix: text(TOKEN, 'a stream name prefix (letters, digits, _ and -)').optional(),
    events_max_age: duration({ min: 60_000 }).optional(),
    decisions_max_age: duration({ min: 60_000 }).optional(),
    replicas: field<number>((v, report) => (v === 1 || v === 3 || v === 5 ? v : void report('expected 1, 3 or 5'))).optional(),
  },
  'a mapping like { servers: [nats://10.0.0.1:4222], user: web1, password: { env: NATS_PASSWORD } }',
)

const busShape = section({ nats: natsSchema }, 'embedded, or a mapping like { nats: { servers: [nats://10.0.0.1:4222] } }')
const BUS_FORMS = 'embedded, or a mapping like { nats: { servers: [nats://10.0.0.1:4222] } }'

/** A value fit to show in a problem: credentials in URLs replaced. */
const scrub = (value: unknown): unknown =>
  typeof value === 'string' ? value.replace(/\/\/[^/@\s]*@/g, '//[redacted]@')
    : Array.isArray(value) ? value.map(scrub) : value

/** `bus:`; absent means embedded. */
export const busSchema = z.unknown().transform((value, ctx): BusConfig => {
  if (value === 'embedded') return { kind: 'embedded' }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: `expected ${BUS_FORMS}`, input: scrub(value) })
    return z.NEVER
  }
  const result = busShape.safeParse(value, { reportInput: true })
  if (!result.success) {
    for (const issue of result.error.issues) ctx.addIssue({ ...issue, input: scrub(issue.input) } as Parameters<typeof ctx.addIssue>[0])
    return z.NEVER
  }
  const n = result.data.nats
  let failed = false
  const problem = (message: string, path: readonly (string | number)[], input: unknown): void => {
    failed = true
    ctx.addIssue({ code: 'custom', message, path: ['nats', ...path], input })
  }
  const ways = [n.user !== undefined || n.password !== undefined, n.token !== undefined, n.creds !== undefined].filter(Boolean).length
  if (ways > 1) problem('expected one way to log in: user and password, token, or creds', [], Object.keys(n))
  if ((n.user === undefined) !== (n.password === undefined)) problem('user and password go together', [n.user === undefined ? 'user' : 'password'], '[redacted]')
  if ((n.tls?.cert_file === undefined) !== (n.tls?.key_file === undefined)) problem('cert_file and key_file go together', ['tls'], Object.keys(n.tls ?? {}))
  if (failed) return z.NEVER
  return {
    kind: 'nats',
    nats: {
      servers: n.servers,
      user: n.user ?? null,
      password: n.password ?? null,
      token: n.token ?? null,
      creds: n.creds ?? null,
      tls: n.tls === undefined ? null : { caFile: n.tls.ca_file ?? null, certFile: n.tls.cert_file ?? null, keyFile: n.tls.key_file ?? null },
      inboxPrefix: n.inbox_prefix ?? null,
      subjectPrefix: n.subject_prefix ?? DEFAULT_SUBJECT_PREFIX,
      streamPrefix: n.stream_prefix ?? DEFAULT_STREAM_PREFIX,
      eventsMaxAge: n.events_max_age ?? DEFAULT_STREAM_MAX_AGE,
      decisionsMaxAge: n.decisions_max_age ?? DEFAULT_STREAM_MAX_AGE,
      replicas: n.replicas ?? 1,
    },
  }
})

export const NATS_KNOWN_KEYS = Object.freeze({
  nats: Object.freeze(Object.keys(natsSchema.shape)),
  tls: Object.freeze(Object.keys(tlsSchema.shape)),
})
