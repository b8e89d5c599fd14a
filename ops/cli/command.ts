// The shape of a subcommand, and argument parsing shared by all of them.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import type { Config } from '../config/types.js'
import { ROLES, type Role } from '../../services/run/roles.js'
import { UsageError } from './usage-error.js'

export type CliIO = Readonly<{
  out: (line: string) => void
  err: (line: string) => void
  isTTY: boolean
  /** The clock, for commands that need "now". */
  now: () => number
  /** The environment at start-up (secrets given as { env: NAME }). */
  env: Readonly<Record<string, string | undefined>>
}>

/** A subcommand; its name and summary are in main.ts and summaries.ts. */
export type Command = Readonly<{
  /** Full --help text. */
  help: string
  run(args: readonly string[], io: CliIO): Promise<number>
}>

export const DEFAULT_CONFIG = '/etc/banledger/banledger.yaml'
export const CONFIG_HELP = `  --config FILE     configuration file (default ${DEFAULT_CONFIG})`

type Options = NonNullable<ParseArgsConfig['options']>

/** parseArgs, strict, with errors turned into UsageError naming the command. */
export function parse<O extends Options>(command: string, args: readonly string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args: [...args], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true })
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message} (see banledger ${command} --help)`)
  }
}

export const configOption = { config: { type: 'string', short: 'c' } } as const

/** Imports the config loader when a command reads the config: it brings
 *  yaml and zod, which cost filter-test (it reads none) 0.1 s of CPU at
 *  start-up, a thirtieth of its run on 1,000,000 lines. */
export async function readConfig(values: { config?: string | boolean | undefined }): Promise<Config> {
  const { loadConfig } = await import('../config/load-config.js')
  return loadConfig(typeof values.config === 'string' ? values.config : DEFAULT_CONFIG)
}

export const roleOption = { role: { type: 'string', multiple: true } } as const

/** `--role a --role b,c`; null when none was given (all roles). */
export function parseRoles(command: string, given: readonly string[] | undefined): Role[] | null {
  if (given === undefined) return null
  const roles: Role[] = []
  for (const name of given.flatMap(g => g.split(','))) {
    const role = ROLES.find(r => r === name.trim())
    if (role === undefined) throw new UsageError(`${command}: --role ${JSON.stringify(name)}: expected ${ROLES.join(', ')}`)
    if (!roles.includes(role)) roles.push(role)
  }
  return roles
}
