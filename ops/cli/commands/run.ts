import { pinoLogger } from '../logger.js'
import { buildSingleHost } from '../../../services/run/single-host.js'
import { CONFIG_HELP, configOption, parse, readConfig, type Command } from '../command.js'

const STOP_TIMEOUT = 10_000

export const runCommand: Command = {
  name: 'run',
  summary: 'run the service (watcher, ledger, decisions) in one process',
  help: `Usage: banledger run [--config FILE]

Runs the single-host service on the embedded bus: follows the jails' log
files, keeps the ledger, and logs every ban and unban decision (JSON lines,
pino). SIGINT/SIGTERM stop it cleanly; a stop lifts no ban.

Options:
${CONFIG_HELP}
  -h, --help        this help`,
  async run(args, io) {
    const { values } = parse('run', args, configOption, false)
    if (values.help === true) { io.out(this.help); return 0 }
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
    const service = buildSingleHost(config, { logger, env: io.env, onFatal: () => stop('a fatal error', 1) })
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
