// banledger explain IP
import { canonicalAddress } from '../../../ledger/rules/addresses.js'
import { entryToWire, wireTypes } from '../../../proto/wire.js'
import { CONFIG_HELP, configOption, parse, readConfig, type Command } from '../command.js'
import { describeEntry } from '../describe.js'
import { openLedgerApi } from '../ledger-access.js'
import { UsageError } from '../usage-error.js'

export const explainCommand: Command = {
  help: `Usage: banledger explain IP [--json] [--config FILE]

Prints, in ledger order, every entry that concerns IP: what came in
(failure, success, operator command, import, expiry) and what it caused.

Options:
  --json            one JSON object per entry (the LedgerEntry message of proto/banledger.proto)
${CONFIG_HELP}`,
  async run(args, io) {
    const { values, positionals } = parse('explain', args, { ...configOption, json: { type: 'boolean' } })
    if (values.help === true) { io.out(this.help); return 0 }
    if (positionals.length !== 1) throw new UsageError('explain: expected one IP address')
    const ip = canonicalAddress(positionals[0] as string)
    if (ip === null) throw new UsageError(`explain: not an IPv4 or IPv6 address: ${JSON.stringify(positionals[0])}`)
    const config = await readConfig(values)
    const api = await openLedgerApi(config, { create: false })
    try {
      const entries = await api.explain(ip)
      if (values.json === true) {
        for (const e of entries) io.out(JSON.stringify(wireTypes.LedgerEntry.toObject(wireTypes.LedgerEntry.fromObject(entryToWire(e)), { enums: String, longs: Number })))
      } else {
        if (entries.length === 0) io.out(`no ledger entry concerns ${ip}`)
        for (const e of entries) for (const line of describeEntry(e)) io.out(line)
      }
    } finally {
      await api.close()
    }
    return 0
  },
}
