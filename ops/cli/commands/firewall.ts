// banledger firewall check|list|flush
import { createBackend } from '../../../services/firewall/backends/create-backend.js'
import { execRunner } from '../../../services/firewall/command-runner.js'
import { firewallWorker } from '../../../services/run/firewall-from-config.js'
import { rulesFromConfig } from '../../../services/run/rules-from-config.js'
import type { Config } from '../../config/types.js'
import { CONFIG_HELP, configOption, parse, readConfig, type CliIO, type Command } from '../command.js'
import { openLedgerApi } from '../ledger-access.js'
import { pinoLogger } from '../logger.js'
import { UsageError } from '../usage-error.js'

async function backendOf(config: Config, io: CliIO) {
  const { backend, reason } = await createBackend(config.firewall.backend, {
    run: execRunner, maxelem: config.firewall.maxelem, log: msg => io.out(`dry-run: ${msg}`),
  })
  io.err(`firewall backend ${reason}`)
  return backend
}

export const firewallCommand: Command = {
  help: `Usage: banledger firewall check|list|flush [--config FILE]

  check   compares the kernel's sets/rules with the bans in force, repairs the
          difference (missing, stale, mistimed) and says what was wrong
  list    the bans the kernel holds, with the time left
  flush   removes banledger's table/sets/chains and says how many bans went;
          the ledger is untouched, and a running service puts them back at
          its next check: stop it first (systemctl stop banledger) if you
          want the rules gone

Needs root (CAP_NET_ADMIN) unless firewall.backend is dry-run.

Options:
${CONFIG_HELP}`,
  async run(args, io) {
    const { values, positionals } = parse('firewall', args, configOption)
    if (values.help === true) { io.out(this.help); return 0 }
    const [action, ...rest] = positionals
    if (action === undefined || !['check', 'list', 'flush'].includes(action) || rest.length > 0) {
      throw new UsageError('firewall: expected check, list or flush (see banledger firewall --help)')
    }
    const config = await readConfig(values)
    const backend = await backendOf(config, io)
    if (action === 'list') {
      const bans = await backend.list()
      io.out(`${bans.length} ban${bans.length === 1 ? '' : 's'} in the kernel (${backend.name})`)
      for (const b of bans) {
        const left = b.expiresIn === null ? 'no timeout' : `${Math.round(b.expiresIn / 1000)}s left`
        io.out(`${b.jail.padEnd(12)} ${b.ip.padEnd(39)} ${left}`)
      }
      return 0
    }
    if (action === 'flush') {
      const { bans } = await backend.flush()
      io.out(`removed banledger's firewall rules and ${bans} ban${bans === 1 ? '' : 's'} (${backend.name}); the ledger still holds them`)
      return 0
    }
    const api = await openLedgerApi(config, { create: false })
    try {
      const worker = await firewallWorker(config, {
        backend, rules: rulesFromConfig(config), snapshot: () => api.bans(null), checkInterval: 0, logger: pinoLogger('error'), now: io.now,
      })
      const r = await worker.check('check')
      await worker.close()
      const wrong = r.missing + r.stale + r.retimed
      io.out(wrong === 0
        ? `in sync: ${r.inForce} bans in force, all in the kernel`
        : `repaired: ${r.missing} missing, ${r.stale} stale, ${r.retimed} with a wrong timeout; ${r.inForce} bans in force`)
      if (r.refused > 0) io.out(`refused ${r.refused} ban(s) of protected addresses (ignore lists, this host, its gateways)`)
      return 0
    } finally {
      await api.close()
    }
  },
}
