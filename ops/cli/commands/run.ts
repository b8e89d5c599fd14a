import { pinoLogger } from '../logger.js'
import type { Config } from '../../config/types.js'
import { buildService, type Service } from '../../../services/run/service.js'
import { CONFIG_HELP, configOption, parse, parseRoles, readConfig, roleOption, type Command } from '../command.js'

const STOP_TIMEOUT = 10_000

export const runCommand: Command = {
  help: `Usage: banledger run [--config FILE] [--role ROLE]...

Runs the service. With the embedded bus (the default, one host) one process
runs every role: follows the jails' log files, keeps the ledger, enforces
bans in the firewall and sends notifications; every decision is logged
(JSON lines, pino). With bus: { nats: ... } each host runs the roles it
needs, e.g. the ledger on one host and a watcher and a firewall worker on
every host. SIGINT/SIGTERM stop it cleanly; a stop lifts no ban. SIGHUP
(systemctl reload) reads the configuration again and restarts the service
in-process on it, lifting nothing; a configuration with problems is
logged, each problem with its path, and the service keeps running on the
one it has.

Options:
${CONFIG_HELP}
  --role ROLE       watcher, ledger, firewall or notifier; repeat it or give
                    a comma-separated list (default: all of them; only
                    bus: nats may run fewer)
  -h, --help        this help`,
  async run(args, io) {
    const { values } = parse('run', args, { ...configOption, ...roleOption }, false)
    if (values.help === true) { io.out(this.help); return 0 }
    const roles = parseRoles('run', values.role)
    let config = await readConfig(values)
    const logger = pinoLogger(config.logLevel)
    const build = (c: Config): Service => {
      logger.level = c.logLevel
      return buildService(c, { logger, env: io.env, onFatal: () => stop('a fatal error', 1), ...(roles === null ? {} : { roles }) })
    }
    let service = build(config)
    // Reloads run one after the other, and a stop after them.
    let reloads: Promise<void> = Promise.resolve()
    let started = false
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
      reloads.then(() => service.stop()).then(() => process.exit(code), err => {
        logger.error({ err }, 'stop failed')
        process.exit(1)
      })
    }
    /** SIGHUP: reads the config again; when it is valid, stops the service
     *  (lifting nothing, as a stop does) and starts it on the new one. A
     *  config with problems, or one the service fails to start on, leaves
     *  the service running on the one before. */
    const reload = (): void => {
      if (!started || stopping) {
        logger.warn('SIGHUP while the service %s: ignored', stopping ? 'stops' : 'starts')
        return
      }
      reloads = reloads.then(async () => {
        if (stopping) return
        let next: Config
        try {
          next = await readConfig(values)
        } catch (err) {
          logger.error({ err: (err as Error).message }, 'SIGHUP: %s; still running on the configuration read before', (err as Error).message)
          return
        }
        logger.info({ config: next.path }, 'reloading %s on SIGHUP', next.path)
        await service.stop()
        try {
          service = build(next)
          await service.start()
          config = next
          logger.info({ config: next.path }, 'configuration reloaded')
        } catch (err) {
          logger.error({ err: (err as Error).message }, 'SIGHUP: the service did not start on the new configuration: %s; starting it again on the one before', (err as Error).message)
          await service.stop()
          service = build(config)
          await service.start()
        }
      }).catch(err => {
        logger.fatal({ err: (err as Error).message }, 'the service did not start again after SIGHUP: %s', (err as Error).message)
        stop('a failed reload', 1)
      })
    }
    process.on('SIGINT', () => stop('SIGINT'))
    process.on('SIGTERM', () => stop('SIGTERM'))
    process.on('SIGHUP', reload)
    try {
      await service.start()
    } catch (err) {
      await service.stop().catch(() => {})
      throw err
    }
    started = true
    await new Promise<never>(() => {}) // runs until a signal
    return 0
  },
}
