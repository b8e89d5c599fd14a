// banledger replay: rebuild every projection from the log and verify it.
import { CONFIG_HELP, configOption, parse, readConfig, type Command } from '../command.js'
import { openLedgerApi } from '../ledger-access.js'
import { UsageError } from '../usage-error.js'

const BAR = 30

export const replayCommand: Command = {
  name: 'replay',
  summary: 'rebuild the projections from the log alone and verify them',
  help: `Usage: banledger replay [--config FILE]

Replays the whole event log into fresh projections (bans, counters, grace
windows) and compares them, row by row and byte for byte, with the stored
ones. Exit status 0 when they are equal, 1 when not (the differences are
listed). Shows progress on a terminal.

Options:
${CONFIG_HELP}`,
  async run(args, io) {
    const { values, positionals } = parse('replay', args, configOption)
    if (values.help === true) { io.out(this.help); return 0 }
    if (positionals.length > 0) throw new UsageError(`replay: unexpected argument ${JSON.stringify(positionals[0])}`)
    const config = await readConfig(values)
    const api = await openLedgerApi(config, { create: false })
    const started = performance.now()
    try {
      let total = 0
      const progress = io.isTTY && api.via === 'direct'
        ? (entries: number, lastSeq: number): void => {
          total = Math.max(total, lastSeq)
          const done = Math.min(1, entries / Math.max(total, 1))
          process.stderr.write(`\r[${'#'.repeat(Math.round(done * BAR)).padEnd(BAR)}] ${entries} entries`)
        }
        : undefined
      const report = await api.verify(progress)
      if (progress !== undefined) process.stderr.write('\n')
      const secs = (performance.now() - started) / 1000
      io.out(`replayed ${report.entries} entries into ${report.addresses} addresses in ${secs.toFixed(2)}s (${api.via === 'service' ? 'by the running service' : 'directly'})`)
      if (report.mismatches.length === 0) {
        io.out('projections verified: replay equals the stored state')
        return 0
      }
      io.err(`projections differ from replay (${report.mismatchCount}):`)
      for (const m of report.mismatches) io.err(`  ${m}`)
      return 1
    } finally {
      await api.close()
    }
  },
}
