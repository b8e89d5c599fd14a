// How firewall adapters run commands: a fixed binary, an argument array and
// optional stdin, never a shell. A test swaps in a runner that records, or
// one that enters a network namespace.
import { execFile } from 'node:child_process'
import { FirewallCommandError } from './backend.js'

/** Resolves with the output when the command exits 0; rejects with a
 *  FirewallCommandError otherwise (its `cause` is execFile's error). */
export type CommandRunner = (
  cmd: string,
  args: readonly string[],
  stdin?: string,
) => Promise<{ stdout: string; stderr: string }>

const TIMEOUT_MS = 30_000
/** Listing 100,000 set elements as JSON takes a few MiB; leave ample room. */
const MAX_BUFFER = 256 * 1024 * 1024
const SHOWN_ARGS = 200
const SHOWN_STDERR = 500

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length - max} more chars)`
}

export const execRunner: CommandRunner = (cmd, args, stdin) =>
  new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      [...args],
      { timeout: TIMEOUT_MS, maxBuffer: MAX_BUFFER, encoding: 'utf8', killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve({ stdout, stderr })
          return
        }
        const exit = err.killed ? `killed after ${TIMEOUT_MS} ms`
          : typeof err.code === 'string' ? `could not start: ${err.code}` : `exit code ${String(err.code)}`
        const shown = truncate(JSON.stringify([cmd, ...args]), SHOWN_ARGS)
        const detail = truncate((stderr || err.message).trim(), SHOWN_STDERR)
        reject(new FirewallCommandError(`command ${shown} failed (${exit}): ${detail}`, { cause: err }))
      },
    )
    // An early exit closes stdin under us (EPIPE); the exit callback reports it.
    child.stdin?.on('error', () => {})
    child.stdin?.end(stdin ?? '')
  })

const NETNS_NAME = /^[a-z0-9-]{1,32}$/

/** Runs every command inside network namespace `ns` (`ip netns exec`). */
export function netnsRunner(ns: string, inner: CommandRunner = execRunner): CommandRunner {
  if (!NETNS_NAME.test(ns)) throw new TypeError(`not a network namespace name: ${JSON.stringify(ns.slice(0, 40))}`)
  return (cmd, args, stdin) => inner('ip', ['netns', 'exec', ns, cmd, ...args], stdin)
}
