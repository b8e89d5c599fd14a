// fail2ban's stock filters and annotated sample logs, for tests only. They
// are GPL, so the repository holds none of them: they are read from the
// system when installed, else from the Debian package, unpacked, never
// installed (debian-package.ts).

import { existsSync } from 'node:fs'
import path from 'node:path'
import { debianPackageRoot } from './debian-package.js'

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
  try {
    return at(await debianPackageRoot('fail2ban', (root) => at(root) !== null))
  } catch (e) {
    fail2banUnavailable = (e as Error).message
    return null
  }
}
