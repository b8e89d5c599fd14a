// banledger bans [--json] [--at TIME]
import { CONFIG_HELP, configOption, parse, readConfig, type Command } from '../command.js'
import { openLedgerApi } from '../ledger-access.js'
import { iso, parseTimeArg } from '../time-arg.js'
import { UsageError } from '../usage-error.js'

export const bansCommand: Command = {
  help: `Usage: banledger bans [--json] [--at TIME] [--config FILE]

Lists the bans in force, one per line. With --at, the bans that were in
force at TIME, rebuilt from the ledger's log (time travel).

Options:
  --json            one JSON object per line
  --at TIME         ISO-8601 time or @EPOCH_SECONDS
${CONFIG_HELP}`,
  async run(args, io) {
    const { values, positionals } = parse('bans', args, { ...configOption, json: { type: 'boolean' }, at: { type: 'string' } })
    if (values.help === true) { io.out(this.help); return 0 }
    if (positionals.length > 0) throw new UsageError(`bans: unexpected argument ${JSON.stringify(positionals[0])}`)
    const at = typeof values.at === 'string' ? parseTimeArg('--at', values.at) : null
    const config = await readConfig(values)
    const api = await openLedgerApi(config, { create: false, env: io.env })
    try {
      const bans = await api.bans(at)
      if (values.json === true) {
        for (const b of bans) io.out(JSON.stringify({ jail: b.jail, ip: b.ip, since: iso(b.since), until: iso(b.until), reason: b.reason }))
      } else {
        io.out(`${bans.length} ban${bans.length === 1 ? '' : 's'} in force${at === null ? '' : ` at ${iso(at)}`}`)
        for (const b of bans) io.out(`${b.jail.padEnd(12)} ${b.ip.padEnd(39)} since ${iso(b.since)} until ${iso(b.until)} (${b.reason})`)
      }
    } finally {
      await api.close()
    }
    return 0
  },
}
