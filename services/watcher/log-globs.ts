// logpath patterns: which hold glob syntax, and the files one matches now.
// The watcher follows what they match; `banledger status` reports it.
import fg from 'fast-glob'

/** True when `path` holds glob syntax (`*`, `?`, `[...]`, `{a,b}`). */
export const isGlob = (path: string): boolean => fg.isDynamicPattern(path)

/** The files `pattern` matches now, sorted: symbolic links followed,
 *  folders that cannot be read skipped. */
export async function filesMatching(pattern: string): Promise<string[]> {
  return (await fg(pattern, { onlyFiles: true, absolute: true, followSymbolicLinks: true, suppressErrors: true })).sort()
}
