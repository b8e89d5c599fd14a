// banledger config check [--role ROLE]... [--config FILE]
import { connectionOptions } from '../../../services/bus/nats/nats-connect.js'
import type { JailPolicy } from '../../../ledger/rules/types.js'
import { openChannels } from '../../../services/run/notifier-from-config.js'
import { watchedJails } from '../../../services/run/filters-from-config.js'
import { checkRoles, ROLES } from '../../../services/run/roles.js'
import { formatDuration } from '../../config/duration.js'
import { CONFIG_HELP, configOption, parse, parseRoles, readConfig, roleOption, type Command } from '../command.js'
import { UsageError } from '../usage-error.js'

/** A jail's rules as the config's defaults and its own keys make them. */
const policyText = (p: JailPolicy): string =>
  `maxretry ${p.maxretry} in ${formatDuration(p.findtime)}, bantime ${formatDuration(p.bantime)}` +
  (p.increment === null ? '' : ` (x${p.increment.factor} per repeat, at most ${formatDuration(p.increment.max)})`) +
  `, grace ${formatDuration(p.grace)} absorbing at most ${p.graceMaxFailures} failures` +
  (p.successLiftsBan ? ', a success lifts a ban' : '')

export const configCommand: Command = {
  help: `Usage: banledger config check [--role ROLE]... [--config FILE]

Checks the configuration as \`banledger run\` reads it, and runs nothing:
the file (every problem at once, with its line, path and value), each
jail's filters (built-in, or fail2ban filter files), the NATS credentials
and the notification channels' secrets and CA files (nothing is sent).
Prints each jail's rules as its own keys and the defaults make them.
Exits 0 when the service would start on it, 78 with the problems
otherwise: the check to run before a reload, as ExecReload in
ops/systemd/ does (a reload with a bad config then fails, and the service
runs on).

What it cannot tell: whether the log files and the NATS servers are
there (the service logs a missing log and waits for it, and retries NATS).

Options:
  --role ROLE       check what these roles need (as banledger run --role;
                    default: all of them)
${CONFIG_HELP}`,
  async run(args, io) {
    const { values, positionals } = parse('config', args, { ...configOption, ...roleOption })
    if (values.help === true) { io.out(this.help); return 0 }
    if (positionals.length !== 1 || positionals[0] !== 'check') throw new UsageError('config: expected "check" (see banledger config --help)')
    const roles = parseRoles('config', values.role) ?? ROLES
    const config = await readConfig(values)
    checkRoles(config, roles)
    const lines = [`${config.path}: OK for ${roles.join(', ')} (bus: ${config.bus.kind}, firewall: ${config.firewall.backend})`]
    if (config.bus.kind === 'nats') {
      const nats = config.bus.nats
      await connectionOptions(nats, { host: config.host, name: 'banledger config check', env: io.env })
      const credentials = nats.password !== null || nats.token !== null || nats.creds !== null
      lines.push(`  bus: ${nats.servers.length} NATS server${nats.servers.length === 1 ? '' : 's'}${credentials ? ', credentials read' : ''}`)
    }
    const watched = roles.includes('watcher') ? new Map((await watchedJails(config)).map(j => [j.name, j])) : null
    for (const { name, policy } of config.jails) {
      lines.push(`  jail ${name}: ${policyText(policy)}`)
      const j = watched?.get(name)
      if (j === undefined) continue
      const reads = j.journal !== null ? 'the journal' : `${j.logpath.length} log path${j.logpath.length === 1 ? '' : 's'}`
      lines.push(`    reads ${reads}${j.success === null ? '' : ', with a success filter'}`)
    }
    if (roles.includes('notifier')) {
      const channels = await openChannels(config, io.env, io.now)
      await Promise.all(channels.map(c => c.close()))
      for (const c of channels) lines.push(`  notify ${c.name}: ${c.kind}, secrets read`)
    }
    io.out(lines.join('\n'))
    return 0
  },
}
