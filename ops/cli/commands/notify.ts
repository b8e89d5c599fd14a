// banledger notify status | notify test --channel NAME
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { Decision } from '../../../ledger/rules/types.js'
import { remoteNotifyStatus, tryConnect } from '../../../services/control/control-client.js'
import type { ChannelStatus } from '../../../services/notifier/notifier-worker.js'
import { Outbox } from '../../../services/notifier/outbox.js'
import { openChannels } from '../../../services/run/notifier-from-config.js'
import { controlSocket, outboxDir } from '../../../services/run/data-dir.js'
import type { Config } from '../../config/types.js'
import { CONFIG_HELP, configOption, parse, readConfig, type CliIO, type Command } from '../command.js'
import { UsageError } from '../usage-error.js'

async function status(config: Config, io: CliIO): Promise<number> {
  const socketPath = controlSocket(config)
  const socket = await tryConnect(socketPath)
  let rows: ChannelStatus[]
  if (socket !== null) {
    socket.destroy()
    rows = await remoteNotifyStatus(socketPath)
  } else {
    // The service is not running: read the outbox itself (no channel is
    // disabled then; a channel gives up only while the service runs).
    const outbox = await Outbox.open(outboxDir(config))
    try {
      const stats = await outbox.stats(io.now())
      rows = config.notify.channels.map(c => {
        const s = stats.get(c.name)
        return { name: c.name, kind: c.type, pending: s?.pending ?? 0, failed: s?.failed ?? 0, oldestPendingAge: s?.oldestPendingAge ?? null, disabled: null }
      })
    } finally {
      await outbox.close()
    }
    io.err('(the service is not running: read from the outbox)')
  }
  if (rows.length === 0) io.out('no notification channel is configured (notify: in the config)')
  for (const r of rows) {
    const age = r.oldestPendingAge === null ? '' : `, oldest waiting ${Math.round(r.oldestPendingAge / 1000)}s`
    io.out(`${r.name.padEnd(12)} ${r.kind.padEnd(10)} ${r.pending} pending, ${r.failed} failed${age}${r.disabled === null ? '' : `; DISABLED: ${r.disabled}`}`)
  }
  return rows.some(r => r.disabled !== null) ? 1 : 0
}

async function test(config: Config, name: string, io: CliIO): Promise<number> {
  const wanted = config.notify.channels.find(c => c.name === name)
  if (wanted === undefined) {
    throw new UsageError(`notify test: no channel "${name}" in ${config.path} (channels: ${config.notify.channels.map(c => c.name).join(', ') || 'none'})`)
  }
  const [channel] = await openChannels({ ...config, notify: { ...config.notify, channels: [wanted] } }, io.env, io.now)
  if (channel === undefined) return 1
  try {
    const now = io.now()
    const decision: Decision = {
      id: `test-${randomUUID()}`, type: 'ban', jail: config.jails[0]?.name ?? 'test', ip: '192.0.2.1', at: now,
      until: now + 60_000, reason: 'operator', seq: 0, failures: 0,
    }
    const result = await channel.deliver([{ decision, host: config.host || hostname() }], { idempotencyKey: decision.id })
    switch (result.status) {
      case 'sent':
        io.out(`${name}: sent a test message (a ban of 192.0.2.1, a documentation address)`)
        return 0
      case 'retry':
        io.out(`${name}: not delivered, would be retried: ${result.reason}`)
        return 1
      case 'disabled':
      case 'failed':
        io.out(`${name}: ${result.status}: ${result.reason}`)
        return 1
    }
  } finally {
    await channel.close()
  }
}

export const notifyCommand: Command = {
  help: `Usage: banledger notify status [--config FILE]
       banledger notify test --channel NAME [--config FILE]

  status  per channel: messages waiting, failed, and whether the channel gave
          up (e.g. Free Mobile 403: wrong credentials or option not enabled);
          exit status 1 when a channel is disabled
  test    sends one test message through the channel now, outside the outbox,
          and says what the channel answered

Options:
  --channel NAME    the channel (its name under notify.channels)
${CONFIG_HELP}`,
  async run(args, io) {
    const { values, positionals } = parse('notify', args, { ...configOption, channel: { type: 'string' } })
    if (values.help === true) { io.out(this.help); return 0 }
    const [action, ...rest] = positionals
    if (rest.length > 0 || (action !== 'status' && action !== 'test')) {
      throw new UsageError('notify: expected status or test (see banledger notify --help)')
    }
    const config = await readConfig(values)
    if (action === 'status') return status(config, io)
    if (typeof values.channel !== 'string') throw new UsageError('notify test: --channel NAME is required')
    return test(config, values.channel, io)
  },
}
