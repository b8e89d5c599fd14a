import { pinoLogger } from '../logger.js'
import { buildService, ROLES, type Role } from '../../../services/run/service.js'
import { UsageError } from '../usage-error.js'
import { CONFIG_HELP, configOption, parse, readConfig, type Command } from '../command.js'

const STOP_TIMEOUT = 10_000

export const runCommand: Command = {
  help: `Usage: banledger run [--config FILE] [--role ROLE]...

Runs the service. With the embedded bus (the default, one host) one process
runs every role: follows the jails' log files, keeps the ledger, enforces
bans in the firewall and sends notifications; every decision is logged
(JSON lines, pino). With bus: { nats: ... } each host runs the roles it
needs, e.g. the ledger on one host and a watcher and a firewall worker on
every host. SIGINT/SIGTERM stop it cleanly; a stop lifts no ban.

Options:
${CONFIG_HELP}
  --role ROLE       watcher, ledger, firewall or notifier; repeat it or give
                    a comma-separated list (default: all of them; only
                    bus: nats may run fewer)
  -h, --help        this help`,
  async run(args, io) {
    const { values } = parse('run', args, { ...configOption, role: { type: 'string', multiple: true } }, false)
    if (values.help === true) { io.out(this.help); return 0 }
    const roles = parseRoles(values.role)
    const config = await readConfig(values)
    const logger = pinoLogger(config.logLevel)
    let stopping = false
    const stop = (signal: string, code = 0): void => {
      if (stopping) return
      stopping = true
      logger.info({ reason: signal }, 'stopping on %s', signal)
      const force = setTimeout(() => {
        logger.error('stop took longer than %dms; exiting', STOP_TIMEOUT)
        process.exit(1)
      }, STOP_TIMEOUT)
      force.unref()
      service.stop().then(() => process.exit(code), err => {
        logger.error({ err }, 'stop failed')
        process.exit(1)
      })
    }
    const service = buildService(config, { logger, env: io.env, onFatal: () => stop('a fatal error', 1), ...(roles === null ? {} : { roles }) })
    process.on('SIGINT', () => stop('SIGINT'))
    process.on('SIGTERM', () => stop('SIGTERM'))
    try {
      await service.start()
    } catch (err) {
      await service.stop().catch(() => {})
      throw err
    }
    await new Promise<never>(() => {}) // runs until a signal
    return 0
  },
}

/** `--role a --role b,c`; null when none was given (all roles). */
function parseRoles(given: readonly string[] | undefined): Role[] | null {
  if (given === undefined) return null
  const roles: Role[] = []
  for (const name of given.flatMap(g => g.split(','))) {
    const role = ROLES.find(r => r === name.trim())
    if (role === undefined) throw new UsageError(`run: --role ${JSON.stringify(name)}: expected ${ROLES.join(', ')}`)
    if (!roles.includes(role)) roles.push(role)
  }
  return roles
}
