// The `banledger` command: parses the subcommand, runs it, turns errors
// into messages and exit codes. Thin on purpose: each command lives in
// ops/cli/commands/.
import { readFileSync } from 'node:fs'
import type { Command, CliIO } from './command.js'
import { bansCommand } from './commands/bans.js'
import { eventsCommand } from './commands/events.js'
import { explainCommand } from './commands/explain.js'
import { filterTestCommand } from './commands/filter-test.js'
import { firewallCommand } from './commands/firewall.js'
import { notifyCommand } from './commands/notify.js'
import { importCommand } from './commands/import.js'
import { banCommand, pardonCommand, unbanCommand } from './commands/operator.js'
import { replayCommand } from './commands/replay.js'
import { runCommand } from './commands/run.js'
import { simulateCommand } from './commands/simulate.js'

const COMMANDS: readonly Command[] = [
  runCommand, simulateCommand, filterTestCommand, bansCommand, explainCommand, eventsCommand, replayCommand,
  banCommand, unbanCommand, pardonCommand, importCommand, firewallCommand, notifyCommand,
]

/** Exit codes: 0 ok, 1 failure, 2 usage, 78 configuration (EX_CONFIG). */
const EXIT_USAGE = 2
const EXIT_CONFIG = 78

/** package.json sits two folders up from the sources, three from dist/. */
function version(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'banledger' && pkg.version !== undefined) return pkg.version
    } catch {
      // try the next candidate
    }
  }
  return 'unknown'
}

function help(): string {
  const width = Math.max(...COMMANDS.map(c => c.name.length))
  return `banledger ${version()}: an event-sourced ban ledger (a fail2ban for one host or a fleet)

Usage: banledger COMMAND [options]

Commands:
${COMMANDS.map(c => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "banledger COMMAND --help" for a command's options.
Every command reads /etc/banledger/banledger.yaml unless --config FILE says otherwise.`
}

export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...args] = argv
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = COMMANDS.find(c => c.name === args[0])
    io.out(topic?.help ?? help())
    return name === undefined ? EXIT_USAGE : 0
  }
  if (name === '--version' || name === '-V') {
    io.out(version())
    return 0
  }
  const command = COMMANDS.find(c => c.name === name)
  if (command === undefined) {
    io.err(`banledger: unknown command "${name}"\n\n${help()}`)
    return EXIT_USAGE
  }
  try {
    return await command.run(args, io)
  } catch (err) {
    const e = err as Error & { code?: string }
    // Usage errors name their command already ("run: --role ..."): say it once.
    io.err(`banledger ${name}: ${e.message.startsWith(`${name}: `) ? e.message.slice(name.length + 2) : e.message}`)
    if (e.code === 'BANLEDGER_USAGE') return EXIT_USAGE
    if (e.code?.startsWith('BANLEDGER_CONFIG') === true || e.code?.startsWith('BANLEDGER_SECRET') === true ||
      e.code === 'BANLEDGER_FILTER_UNKNOWN' || e.code === 'BANLEDGER_NOTIFY_CA_FILE' || e.code === 'BANLEDGER_ROLE_INVALID') return EXIT_CONFIG
    if (e.code === undefined || !e.code.startsWith('BANLEDGER_')) io.err(e.stack ?? '')
    return 1
  }
}

const io: CliIO = {
  out: line => process.stdout.write(`${line}\n`),
  err: line => process.stderr.write(`${line}\n`),
  isTTY: process.stderr.isTTY === true,
  now: Date.now,
  env: { ...process.env },
}

process.exitCode = await main(process.argv.slice(2), io)
