// fail2ban's stock filters and annotated sample logs, for tests only. They
// are GPL, so the repository holds none of them: they are read from the
// system when installed, else from the Debian package, downloaded with
// `apt-get download` and unpacked with `dpkg -x` (never installed: the
// package would start a daemon) into a cache directory under os.tmpdir().

import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const SAMPLES = 'usr/lib/python3/dist-packages/fail2ban/tests/files/logs'
const FILTERS = 'etc/fail2ban/filter.d'

/** root: where the package's tree starts ('/' when fail2ban is installed). */
export type Fail2banFiles = { root: string; filterDir: string; logsDir: string }

/** Why fail2banFiles() last returned null. */
export let fail2banUnavailable = ''

const at = (root: string): Fail2banFiles | null => {
  const files = { root, filterDir: path.join(root, FILTERS), logsDir: path.join(root, SAMPLES) }
  return existsSync(path.join(files.filterDir, 'sshd.conf')) && existsSync(path.join(files.logsDir, 'sshd')) ? files : null
}

let pending: Promise<Fail2banFiles | null> | undefined

/** The filter and sample directories, or null (see fail2banUnavailable). */
export function fail2banFiles(): Promise<Fail2banFiles | null> {
  pending ??= locate()
  return pending
}

async function locate(): Promise<Fail2banFiles | null> {
  const system = at('/')
  if (system !== null) return system
  let version: string
  try {
    const { stdout } = await run('apt-cache', ['show', '--no-all-versions', 'fail2ban'], { timeout: 60_000 })
    version = /^Version: (\S+)$/m.exec(stdout)?.[1] ?? ''
    if (version === '') throw new Error('apt-cache shows no version of fail2ban')
  } catch (e) {
    fail2banUnavailable = `fail2ban is not installed and its Debian package is unknown here: ${(e as Error).message}`
    return null
  }
  const cache = path.join(os.tmpdir(), `banledger-fail2ban-${version.replace(/[^\w.+-]/g, '_')}`)
  const cached = at(cache)
  if (cached !== null) return cached
  const work = await mkdtemp(path.join(os.tmpdir(), 'banledger-fail2ban-dl-'))
  try {
    await run('apt-get', ['download', `fail2ban=${version}`], { cwd: work, timeout: 300_000 })
    const deb = (await readdir(work)).find((f) => f.endsWith('.deb'))
    if (deb === undefined) throw new Error('apt-get download produced no .deb')
    await run('dpkg', ['-x', path.join(work, deb), path.join(work, 'x')], { timeout: 120_000 })
    await rename(path.join(work, 'x'), cache).catch((e: unknown) => {
      if (at(cache) === null) throw e // another test process won the race otherwise
    })
  } catch (e) {
    fail2banUnavailable = `cannot fetch fail2ban ${version} with apt-get download + dpkg -x: ${(e as Error).message}`
    return null
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  const found = at(cache)
  if (found === null) fail2banUnavailable = `the fail2ban ${version} package has no ${FILTERS} or ${SAMPLES}`
  return found
}
