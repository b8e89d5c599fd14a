// The notifier worker as configured (notify:), with its outbox in the data
// dir. Secrets are read once here, from files or the environment main hands
// over; nothing reads process.env later.
import type { Logger } from 'pino'
import type { Decision, Millis } from '../../ledger/rules/types.js'
import type { Config } from '../../ops/config/types.js'
import type { Channel } from '../notifier/channel.js'
import { openChannel } from '../notifier/channels/open-channel.js'
import type { ChannelConfig } from '../notifier/notifier-config.js'
import { NotifierWorker } from '../notifier/notifier-worker.js'
import { Outbox } from '../notifier/outbox.js'
import { SecretError } from '../notifier/secrets.js'
import { outboxDir } from './data-dir.js'

/** Whether `channel` wants `d` (its `on:` and `jails:`). */
export function wants(channel: ChannelConfig, d: Decision): boolean {
  return channel.on.includes(d.type) && (channel.jails === null || channel.jails.includes(d.jail))
}

/** Every configured channel, opened (secrets read, CA files loaded). Throws
 *  a clear error for an unsafe or missing secret; closes what it opened. */
export async function openChannels(
  config: Config, env: Readonly<Record<string, string | undefined>>, now: () => Millis,
): Promise<Channel[]> {
  const opened: Channel[] = []
  let at = ''
  try {
    for (const c of config.notify.channels) {
      at = c.name
      opened.push(await openChannel(c, { env, now }))
    }
  } catch (err) {
    await Promise.all(opened.map(c => c.close()))
    // Which channel, in which file: the secret's own message names only
    // its variable or file.
    if (err instanceof SecretError) err.message = `${config.path}: notify.channels.${at}: ${err.message}`
    throw err
  }
  return opened
}

export type Notifier = Readonly<{
  worker: NotifierWorker
  /** Stops the worker, then closes the channels and the outbox. Idempotent. */
  close(): Promise<void>
}>

/** Null when no channel is configured. */
export async function buildNotifier(
  config: Config, env: Readonly<Record<string, string | undefined>>, logger: Logger, now: () => Millis,
): Promise<Notifier | null> {
  if (config.notify.channels.length === 0) return null
  const channels = await openChannels(config, env, now)
  const outbox = await Outbox.open(outboxDir(config))
  const byName = new Map(config.notify.channels.map(c => [c.name, c]))
  const worker = new NotifierWorker({
    outbox,
    channels,
    route: d => config.notify.channels.filter(c => wants(c, d)).map(c => c.name),
    digestWindow: config.notify.digestWindow,
    backoff: name => byName.get(name)?.retry ?? { initial: 10_000, max: 3_600_000 },
    logger,
    now,
    host: config.host,
  })
  worker.start()
  logger.info({ notify: { channels: channels.map(c => `${c.name} (${c.kind})`) } }, 'notifier: %d channel(s)', channels.length)
  let closing: Promise<void> | null = null
  return {
    worker,
    close: () => {
      closing ??= (async () => {
        await worker.close()
        await Promise.all(channels.map(c => c.close()))
        await outbox.close()
      })()
      return closing
    },
  }
}
