// From a parsed channel config to a working Channel: reads its secrets
// (secrets.ts: owner-only files or environment variables) and its extra CA
// file, once, at start-up.
//
// Error codes, stable and never reused (besides SecretError's):
//   BANLEDGER_NOTIFY_CA_FILE  `ca_file` cannot be read or holds no usable
//                             PEM certificate; `cause` says why.
import { readFile } from 'node:fs/promises'
import type { Millis } from '../../../ledger/rules/types.js'
import type { Channel } from '../channel.js'
import type { ChannelConfig } from '../notifier-config.js'
import { readSecret } from '../secrets.js'
import type { SecretRef } from '../secrets.js'
import { emailChannel } from './email.js'
import { freeMobileChannel } from './freemobile.js'
import { trustStore } from './http-client.js'
import { webhookChannel } from './webhook.js'

export class ChannelSetupError extends Error {
  override readonly name = 'ChannelSetupError'
  readonly code = 'BANLEDGER_NOTIFY_CA_FILE'
  readonly channel: string
  constructor(channel: string, message: string, cause: unknown) {
    super(message, { cause })
    this.channel = channel
  }
}

export type OpenChannelDeps = Readonly<{
  /** The environment captured at start-up, for `{ env: NAME }` secrets. */
  env: Readonly<Record<string, string | undefined>>
  now: () => Millis
}>

/** Rejects with a SecretError or a ChannelSetupError; nothing is sent. */
export async function openChannel(config: ChannelConfig, deps: OpenChannelDeps): Promise<Channel> {
  const secret = (ref: SecretRef) => readSecret(ref, deps.env)
  const extraCa = config.caFile === null ? null : await readCa(config.name, config.caFile)
  const common = { name: config.name, extraCa, timeout: config.timeout }
  switch (config.type) {
    case 'email': {
      const spec = config.transport
      if (spec.kind === 'sendmail') return emailChannel({ ...common, ...mailFields(config), transport: spec, now: deps.now })
      const auth = spec.user === null || spec.password === null
        ? null
        : { user: typeof spec.user === 'string' ? spec.user : await secret(spec.user), pass: await secret(spec.password) }
      const transport = { kind: 'smtp' as const, host: spec.host, port: spec.port, security: spec.security, auth }
      return emailChannel({ ...common, ...mailFields(config), transport, now: deps.now })
    }
    case 'freemobile':
      return freeMobileChannel({ ...common, user: await secret(config.user), pass: await secret(config.pass), baseUrl: config.baseUrl })
    case 'webhook':
      return webhookChannel({ ...common, url: config.url, secret: await secret(config.secret), now: deps.now })
    default: {
      const never: never = config
      throw new TypeError(`unknown channel type in ${JSON.stringify(never)}`)
    }
  }
}

function mailFields(config: Extract<ChannelConfig, { type: 'email' }>) {
  return { format: config.format, from: config.from, to: config.to, target: config.target }
}

async function readCa(channel: string, path: string): Promise<string> {
  try {
    const pem = await readFile(path, 'utf8')
    trustStore(pem)
    return pem
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err)
    throw new ChannelSetupError(channel, `channel ${channel}: ca_file ${path}: ${why}`, err)
  }
}
