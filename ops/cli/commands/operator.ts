// banledger ban|unban|pardon IP --jail J [--reason TEXT] [--duration D]
import { randomUUID } from 'node:crypto'
import { userInfo } from 'node:os'
import { canonicalAddress } from '../../../ledger/rules/addresses.js'
import type { OperatorCommand } from '../../../ledger/rules/types.js'
import { parseDuration } from '../../config/duration.js'
import { CONFIG_HELP, configOption, parse, readConfig, type Command } from '../command.js'
import { describeEvent } from '../describe.js'
import { openLedgerApi } from '../ledger-access.js'
import { SUMMARIES } from '../summaries.js'
import { UsageError } from '../usage-error.js'

function operatorCommand(action: OperatorCommand['action']): Command {
  return {
    help: `Usage: banledger ${action} IP --jail JAIL [--reason TEXT]${action === 'ban' ? ' [--duration D]' : ''} [--config FILE]

${action[0]?.toUpperCase()}${action.slice(1)}: ${SUMMARIES[action]}.
Recorded in the ledger with who (the Unix user) and why. Works whether or
not the service runs. Idempotent: ${action === 'ban' ? 'banning a banned address' : 'unbanning a free address'} changes nothing.

Options:
  --jail JAIL       the jail (required)
  --reason TEXT     why, kept in the ledger${action === 'ban' ? '\n  --duration D      ban length: 30m, 12h, 5d...' : ''}
${CONFIG_HELP}`,
    async run(args, io) {
      const { values, positionals } = parse(action, args, {
        ...configOption, jail: { type: 'string', short: 'j' }, reason: { type: 'string', short: 'r' },
        ...(action === 'ban' ? { duration: { type: 'string', short: 'd' } } : {}),
      })
      if (values.help === true) { io.out(this.help); return 0 }
      if (positionals.length !== 1) throw new UsageError(`${action}: expected one IP address (see banledger ${action} --help)`)
      const ip = canonicalAddress(positionals[0] as string)
      if (ip === null) throw new UsageError(`${action}: not an IPv4 or IPv6 address: ${JSON.stringify(positionals[0])}`)
      const jail = values.jail
      if (typeof jail !== 'string') throw new UsageError(`${action}: --jail is required`)
      const config = await readConfig(values)
      if (!config.jails.some(j => j.name === jail)) {
        throw new UsageError(`${action}: no jail "${jail}" in ${config.path} (jails: ${config.jails.map(j => j.name).join(', ')})`)
      }
      const durationText = (values as { duration?: string }).duration
      const duration = durationText === undefined ? undefined : parseDuration(durationText, {})
      const command: OperatorCommand = {
        type: 'operator', action, id: `operator/${randomUUID()}`, jail, ip, at: io.now(),
        actor: userInfo().username, reason: typeof values.reason === 'string' ? values.reason.slice(0, 500) : '',
        ...(duration !== undefined ? { duration } : {}),
      }
      const api = await openLedgerApi(config, { create: true, env: io.env })
      try {
        const [result] = await api.submit([command])
        if (api.via === 'bus') io.out(`${action} ${ip} in ${jail}: sent to the ledger over NATS (see banledger events)`)
        for (const e of result?.events ?? []) io.out(describeEvent(e))
      } finally {
        await api.close()
      }
      return 0
    },
  }
}

export const banCommand = operatorCommand('ban')
export const unbanCommand = operatorCommand('unban')
export const pardonCommand = operatorCommand('pardon')
