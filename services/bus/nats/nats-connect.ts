// One NATS connection per process, from `bus.nats`: credentials read from
// their files or variables (never logged), TLS, an inbox prefix of this
// host's own, and reconnection forever: an outage is waited out, never a
// reason to exit (watchers keep their offsets, the ledger its log).
import { readFile } from 'node:fs/promises'
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from 'nats'
import type { Logger } from 'pino'
import { readSecret, SecretError, type SecretRef } from '../../notifier/secrets.js'
import type { NatsBusConfig } from '../bus-config.js'
import { inboxPrefix } from './nats-names.js'

export type ConnectDeps = Readonly<{
  host: string
  /** Shown by the server (`connz`): which roles this process runs. */
  name: string
  env: Readonly<Record<string, string | undefined>>
  logger: Logger
}>

/** The connection options `config` describes, secrets resolved: rejects
 *  with a SecretError naming the bus.nats key. */
export async function connectionOptions(config: NatsBusConfig, deps: Omit<ConnectDeps, 'logger'>): Promise<ConnectionOptions> {
  const opts: ConnectionOptions = {
    servers: [...config.servers],
    name: deps.name,
    inboxPrefix: inboxPrefix(config, deps.host),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    reconnectJitter: 500,
    waitOnFirstConnect: true,
    timeout: 5000,
    pingInterval: 10_000,
    // No stack captured for every request's async trace: measured 20% of
    // the ledger's thread and more of a watcher's under load.
    noAsyncTraces: true,
  }
  if (config.user !== null) opts.user = config.user
  if (config.password !== null) opts.pass = await secret('password', config.password, deps.env)
  if (config.token !== null) opts.token = await secret('token', config.token, deps.env)
  if (config.creds !== null) opts.authenticator = credsAuthenticator(await credsFile(config.creds))
  if (config.tls !== null) {
    const { caFile, certFile, keyFile } = config.tls
    opts.tls = {
      ...(caFile === null ? {} : { caFile }),
      ...(certFile === null ? {} : { certFile }),
      ...(keyFile === null ? {} : { keyFile }),
    }
  }
  return opts
}

/** A secret of bus.nats, its key named in the error. */
async function secret(key: string, ref: SecretRef, env: Readonly<Record<string, string | undefined>>): Promise<string> {
  try {
    return await readSecret(ref, env)
  } catch (err) {
    if (err instanceof SecretError) err.message = `bus.nats.${key}: ${err.message}`
    throw err
  }
}

/** A NATS credentials file (JWT and NKey seed): read as it is. */
async function credsFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new SecretError(code === 'ENOENT' ? 'BANLEDGER_SECRET_MISSING' : 'BANLEDGER_SECRET_UNREADABLE', { file: path },
      `bus.nats.creds: cannot read ${path}: ${code ?? String(err)}`, err)
  }
}

/** Connects (waiting for a server if none answers yet) and logs the
 *  connection's ups and downs. */
export async function connectNats(config: NatsBusConfig, deps: ConnectDeps): Promise<NatsConnection> {
  const nc = await connect(await connectionOptions(config, deps))
  const { logger } = deps
  logger.info({ nats: { server: nc.getServer() } }, 'connected to NATS at %s', nc.getServer())
  void (async () => {
    for await (const s of nc.status()) {
      const data = typeof s.data === 'string' ? s.data : JSON.stringify(s.data)
      if (s.type === 'disconnect') logger.warn({ nats: { server: data } }, 'NATS connection lost (%s); reconnecting', data)
      else if (s.type === 'reconnect') logger.info({ nats: { server: data } }, 'NATS connection back (%s)', data)
      else if (s.type === 'error') logger.error({ nats: { error: data } }, 'NATS: %s', data)
      else if (s.type === 'ldm') logger.warn('NATS server %s asks clients to move (lame duck mode)', data)
    }
  })()
  return nc
}
