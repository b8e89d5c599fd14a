// banledger status [--json]
import { CONFIG_HELP, configOption, parse, readConfig, type Command } from '../command.js'
import { openLedgerApi } from '../ledger-access.js'
import { jailSources, readText } from '../log-sources.js'
import { UsageError } from '../usage-error.js'

const VIA = { service: 'through the running service', direct: 'read directly: the service is not running', bus: 'over NATS' } as const

export const statusCommand: Command = {
  help: `Usage: banledger status [--json] [--config FILE]

Each jail's addresses by where they stand now, as fail2ban-client status
counts them: banned (bans in force), failing (not banned, with a counted
failure inside findtime), in grace (inside a grace window) and tracked
(every address the ledger holds state for: counters, grace windows, bans,
and past bans remembered for repeat offenders). Jails of the config come
first, in its order, then those only the ledger knows. Also says whether
the service runs (the command goes through it) and the ledger's sequence,
and what this host's watcher reads for each jail: each file its logpath
names or matches now, its size, and how far the watcher has read it (as
stored, about once a second), or why it cannot be read.

Options:
  --json            one JSON object: {"seq", "service", "jails": [{"jail",
                    "configured", "banned", "failing", "grace", "tracked"}],
                    "sources": [{"jail", "journal", "files": [{"path",
                    "size", "read", "error"}]}]}
${CONFIG_HELP}`,
  async run(args, io) {
    const { values, positionals } = parse('status', args, { ...configOption, json: { type: 'boolean' } })
    if (values.help === true) { io.out(this.help); return 0 }
    if (positionals.length > 0) throw new UsageError(`status: unexpected argument ${JSON.stringify(positionals[0])}`)
    const config = await readConfig(values)
    const api = await openLedgerApi(config, { create: false, env: io.env })
    try {
      const { seq, jails } = await api.status()
      const known = new Map(jails.map(j => [j.jail, j]))
      const row = (jail: string, configured: boolean) => {
        const s = known.get(jail)
        return { jail, configured, banned: s?.banned ?? 0, failing: s?.failing ?? 0, grace: s?.grace ?? 0, tracked: s?.tracked ?? 0 }
      }
      const configured = new Set(config.jails.map(j => j.name))
      const rows = [
        ...config.jails.map(j => row(j.name, true)),
        ...jails.filter(j => !configured.has(j.jail)).map(j => row(j.jail, false)),
      ]
      const sources = await jailSources(config)
      if (values.json === true) {
        io.out(JSON.stringify({ seq, service: api.via === 'service', jails: rows, sources }))
        return 0
      }
      io.out(`ledger at sequence ${seq}, ${VIA[api.via]}`)
      const table = [['jail', 'banned', 'failing', 'in grace', 'tracked'],
        ...rows.map(r => [r.configured ? r.jail : `${r.jail} (not in the config)`, String(r.banned), String(r.failing), String(r.grace), String(r.tracked)])]
      const widths = table[0]?.map((_, i) => Math.max(...table.map(row => (row[i] ?? '').length))) ?? []
      for (const row of table) {
        io.out(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ').trimEnd())
      }
      io.out('')
      io.out("what this host's watcher reads:")
      const jailWidth = Math.max(...sources.map(j => j.jail.length))
      const pathWidth = Math.max(0, ...sources.flatMap(j => j.files.map(f => f.path.length)))
      for (const j of sources) {
        if (j.journal) io.out(`  ${j.jail.padEnd(jailWidth)}  the systemd journal`)
        for (const f of j.files) io.out(`  ${j.jail.padEnd(jailWidth)}  ${f.path.padEnd(pathWidth)}  ${readText(f)}`)
      }
    } finally {
      await api.close()
    }
    return 0
  },
}
