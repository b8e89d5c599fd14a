// A Debian package's files, for tests and benches only: read from the system
// when the package is installed, else downloaded with `apt-get download` and
// unpacked with `dpkg -x` (never installed: a package may start a daemon)
// into a cache directory under os.tmpdir(), one per version.
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The root of package `name`'s files: '/' when `present('/')`, else its
 *  unpacked copy. Throws with the reason when neither can be had. */
export async function debianPackageRoot(name: string, present: (root: string) => boolean): Promise<string> {
  if (present('/')) return '/'
  let version: string
  try {
    const { stdout } = await run('apt-cache', ['show', '--no-all-versions', name], { timeout: 60_000 })
    version = /^Version: (\S+)$/m.exec(stdout)?.[1] ?? ''
    if (version === '') throw new Error(`apt-cache shows no version of ${name}`)
  } catch (e) {
    throw new Error(`${name} is not installed and its Debian package is unknown here: ${(e as Error).message}`, { cause: e })
  }
  const cache = path.join(os.tmpdir(), `banledger-${name}-${version.replace(/[^\w.+-]/g, '_')}`)
  if (present(cache)) return cache
  const work = await mkdtemp(path.join(os.tmpdir(), `banledger-${name}-dl-`))
  try {
    await run('apt-get', ['download', `${name}=${version}`], { cwd: work, timeout: 300_000 })
    const deb = (await readdir(work)).find((f) => f.endsWith('.deb'))
    if (deb === undefined) throw new Error('apt-get download produced no .deb')
    await run('dpkg', ['-x', path.join(work, deb), path.join(work, 'x')], { timeout: 120_000 })
    await rename(path.join(work, 'x'), cache).catch((e: unknown) => {
      if (!present(cache)) throw e // another test process won the race otherwise
    })
  } catch (e) {
    throw new Error(`cannot fetch ${name} ${version} with apt-get download + dpkg -x: ${(e as Error).message}`, { cause: e })
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  if (!present(cache)) throw new Error(`the ${name} ${version} package lacks the files looked for`)
  return cache
}
