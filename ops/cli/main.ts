// The `banledger` command: parses the subcommand, runs it, turns errors
// into messages and exit codes. Thin on purpose: each command lives in
// ops/cli/commands/.
import { readFileSync } from 'node:fs'
import type { Command, CliIO } from './command.js'
import { SUMMARIES, type CommandName } from './summaries.js'

/** The commands by name. Each one's module is imported when it runs:
 *  importing them all (the service, NATS, LevelDB, mail...) cost 0.3 s of
 *  CPU before any command, a quarter of what filter-test takes on
 *  1,000,000 lines. */
const COMMANDS: Readonly<Record<CommandName, () => Promise<Command>>> = {
  run: async () => (await import('./commands/run.js')).runCommand,
  config: async () => (await import('./commands/config.js')).configCommand,
  simulate: async () => (await import('./commands/simulate.js')).simulateCommand,
  'filter-test': async () => (await import('./commands/filter-test.js')).filterTestCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  bans: async () => (await import('./commands/bans.js')).bansCommand,
  explain: async () => (await import('./commands/explain.js')).explainCommand,
  events: async () => (await import('./commands/events.js')).eventsCommand,
  replay: async () => (await import('./commands/replay.js')).replayCommand,
  ban: async () => (await import('./commands/operator.js')).banCommand,
  unban: async () => (await import('./commands/operator.js')).unbanCommand,
  pardon: async () => (await import('./commands/operator.js')).pardonCommand,
  import: async () => (await import('./commands/import.js')).importCommand,
  firewall: async () => (await import('./commands/firewall.js')).firewallCommand,
  notify: async () => (await import('./commands/notify.js')).notifyCommand,
}
const commandNamed = (name: string | undefined): Promise<Command> | undefined =>
  name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name as CommandName]() : undefined

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
  const commands = Object.entries(SUMMARIES)
  const width = Math.max(...commands.map(([name]) => name.length))
  return `banledger ${version()}: an event-sourced ban ledger (a fail2ban for one host or a fleet)

Usage: banledger COMMAND [options]

Commands:
${commands.map(([name, summary]) => `  ${name.padEnd(width)}  ${summary}`).join('\n')}

Run "banledger COMMAND --help" for a command's options.
Every command reads /etc/banledger/banledger.yaml unless --config FILE says otherwise.`
}

export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...args] = argv
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = await commandNamed(args[0])
    io.out(topic?.help ?? help())
    return name === undefined ? EXIT_USAGE : 0
  }
  if (name === '--version' || name === '-V') {
    io.out(version())
    return 0
  }
  const command = await commandNamed(name)
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

/** Standard output's reader went away (`| head`): the rest of the output
 *  is dropped, quietly, and the command ends as it would have (cleaning up
 *  after itself). Watched from the first line printed: filter-test's
 *  blocking writes (blocking-stdout.ts) want fd 1 as Node found it. */
let stdoutClosed = false
let stdoutWatched = false
function printLine(line: string): void {
  if (!stdoutWatched) {
    stdoutWatched = true
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err
      stdoutClosed = true
    })
  }
  if (!stdoutClosed) process.stdout.write(`${line}\n`)
}

const io: CliIO = {
  out: printLine,
  err: line => process.stderr.write(`${line}\n`),
  isTTY: process.stderr.isTTY === true,
  now: Date.now,
  env: { ...process.env },
}

process.exitCode = await main(process.argv.slice(2), io)
