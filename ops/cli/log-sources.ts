// What this host's watcher reads for each jail, and how far it got, for
// `banledger status` (fail2ban-client status' "File list"): each file a
// logpath names or matches now, its size, and the read position the
// watcher last stored for that path (offsets are written about once a
// second, so a busy file looks a little behind).
import { open } from 'node:fs/promises'
import { offsetsFile } from '../../services/run/data-dir.js'
import { filesMatching, isGlob } from '../../services/watcher/log-globs.js'
import { OffsetStore } from '../../services/watcher/offset-store.js'
import type { Config } from '../config/types.js'

export type FileSource = Readonly<{
  path: string
  /** Bytes in the file; null when it cannot be read. */
  size: number | null
  /** Where the watcher's stored position for this path is; null: none yet. */
  read: number | null
  /** Why the file cannot be read (ENOENT, EACCES..., or NO_MATCH for a
   *  glob); null when it can. */
  error: string | null
}>

export type JailSources = Readonly<{ jail: string; journal: boolean; files: readonly FileSource[] }>

/** A glob that matches no file now (the watcher looks again). */
export const NO_MATCH = 'no file matches'

/** The files of `pattern`: those a glob matches now (null: none), or the
 *  path as it is. */
async function filesOf(pattern: string): Promise<string[] | null> {
  if (!isGlob(pattern)) return [pattern]
  const matches = await filesMatching(pattern)
  return matches.length === 0 ? null : matches
}

/** The size of `path`, opened for reading as the watcher opens it. */
async function sizeOf(path: string): Promise<{ size: number } | { error: string }> {
  try {
    const handle = await open(path, 'r')
    try {
      return { size: (await handle.stat()).size }
    } finally {
      await handle.close()
    }
  } catch (err) {
    return { error: (err as NodeJS.ErrnoException).code ?? (err as Error).message }
  }
}

export async function jailSources(config: Config): Promise<JailSources[]> {
  const offsets = new OffsetStore(offsetsFile(config))
  const out: JailSources[] = []
  for (const jail of config.jails) {
    if (jail.backend === 'systemd') {
      out.push({ jail: jail.name, journal: true, files: [] })
      continue
    }
    const files: FileSource[] = []
    for (const pattern of jail.logpath) {
      const paths = await filesOf(pattern)
      if (paths === null) files.push({ path: pattern, size: null, read: null, error: NO_MATCH })
      for (const path of paths ?? []) {
        // The latest identity seen at this path: its content now, unless
        // it was rotated and the new one has no complete line yet.
        let read: number | null = null
        let latest = -1
        for (const entry of (await offsets.entriesFor(path)).values()) {
          if (entry.updatedAt > latest) {
            latest = entry.updatedAt
            read = entry.offset
          }
        }
        const size = await sizeOf(path)
        files.push({ path, read, ...('size' in size ? { size: size.size, error: null } : { size: null, error: size.error }) })
      }
    }
    out.push({ jail: jail.name, journal: false, files })
  }
  return out
}

/** How far `f` was read, in words. */
export function readText(f: FileSource): string {
  if (f.size === null) {
    if (f.error === NO_MATCH) return `${NO_MATCH} yet (the service looks again)`
    return f.error === 'ENOENT' ? 'no such file (the service waits for it)' : `cannot be read: ${f.error ?? '?'}`
  }
  const size = `${f.size} bytes`
  if (f.read === null) return `${size}, not read yet`
  if (f.read === f.size) return `${size}, read to the end`
  if (f.read < f.size) return `${size}, read to byte ${f.read} (${f.size - f.read} behind)`
  return `${size}, smaller than where reading stopped (${f.read}): truncated or rotated since`
}
