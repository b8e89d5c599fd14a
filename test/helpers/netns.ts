// Network namespaces for firewall tests: every firewall command a test runs
// goes into a namespace the test made, never into the host's own firewall.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import type { Test } from 'tap'

const exec = promisify(execFile)
const made: string[] = []

/** Every namespace withNetns made in this process (for a leak check). */
export const namespacesMade = (): readonly string[] => made

/** Makes `bl-<prefix>-<random>` with `lo` up; `t.teardown` deletes it. */
export async function withNetns(t: Test, prefix = 't'): Promise<string> {
  const name = `bl-${prefix}-${randomBytes(4).toString('hex')}`
  if (!/^bl-[a-z0-9-]{1,29}$/.test(name)) throw new TypeError(`bad namespace prefix: ${JSON.stringify(prefix)}`)
  await exec('ip', ['netns', 'add', name])
  made.push(name)
  t.teardown(() => exec('ip', ['netns', 'del', name]))
  await exec('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up'])
  return name
}

/** Null when namespaces and the commands work here; else why not. */
export async function hasNetnsCapability(commands: readonly string[] = ['nft']): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'not root: network namespaces need CAP_SYS_ADMIN'
  const probe = `bl-probe-${randomBytes(4).toString('hex')}`
  try {
    await exec('ip', ['netns', 'add', probe])
  } catch (err) {
    return `\`ip netns add\` does not work here: ${(err as Error).message.split('\n')[0]}`
  }
  try {
    for (const cmd of commands) {
      try {
        await exec('ip', ['netns', 'exec', probe, cmd, '--version'])
      } catch (err) {
        return `\`${cmd} --version\` failed: ${(err as Error).message.split('\n')[0]}`
      }
    }
    return null
  } finally {
    await exec('ip', ['netns', 'del', probe])
  }
}

/** Skips (prints why) when namespaces are not available; fails on CI,
 *  which runs as root and must never skip a firewall test. Returns true
 *  when the test may go on. */
export async function requireNetns(t: Test, commands?: readonly string[]): Promise<boolean> {
  const reason = await hasNetnsCapability(commands)
  if (reason === null) return true
  if (process.env.CI === 'true') t.fail(`CI must run firewall tests: ${reason}`)
  else t.plan(0, `skipped: ${reason}`)
  return false
}
