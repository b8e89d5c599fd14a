// Children that die with the test process. A test file that tap kills at its
// time limit (or that crashes) runs no teardown, and a nats-server or a
// service it started would run on, holding ports and temp dirs, into the
// next run. On Linux, util-linux's setpriv sets the child's parent-death
// signal and then execs the command itself (same pid, same signals), so the
// kernel kills it when the test process goes, however it goes.
import { spawnSync } from 'node:child_process'

const SETPRIV = spawnSync('setpriv', ['--help'], { stdio: 'ignore' }).status === 0

/** `[command, args]` to spawn `cmd args` so that it is SIGKILLed when this process dies. */
export function tied(cmd: string, args: readonly string[]): [string, string[]] {
  return SETPRIV ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', cmd, ...args]] : [cmd, [...args]]
}
