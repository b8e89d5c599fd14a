// journalctl match expressions in fail2ban's `journalmatch` syntax:
//   _SYSTEMD_UNIT=ssh.service + _COMM=sshd
// Terms are FIELD=value separated by spaces; a lone `+` separates
// alternatives. Within one alternative journalctl ANDs terms on different
// fields and ORs terms on the same field (journalctl(1), MATCHES).
//
// The terms become journalctl's arguments (an argv array, never a shell),
// and are checked strictly all the same: a field name is what journald
// accepts (A-Z, 0-9 and _, not starting with a digit, at most 64
// characters), a value is 1 to 256 printable characters without spaces.
// fail2ban reads the text with shlex (quotes, backslash escapes); here a
// value is taken literally and quotes are refused, so no value can hold a
// space and `\x2d` in a unit name stays as written.

/** Alternatives (OR) of terms (`FIELD=value`, ANDed across fields). */
export type JournalMatch = readonly (readonly string[])[]

const FIELD = /^[A-Z_][A-Z0-9_]{0,63}$/
// Printable, no space, no quote (every character from ! to ~ but " and ', and non-ASCII letters).
// eslint-disable-next-line no-control-regex -- the point is to refuse control characters
const BAD_VALUE_CHAR = /[\u0000-\u0020\u007f-\u009f"'\u2028\u2029]/
const MAX_VALUE = 256
const MAX_TERMS = 64
const MAX_TEXT = 4096

/** The match in `text`, normalised (see normalise), or a problem in words. */
export function parseJournalMatch(text: string): JournalMatch | string {
  if (typeof text !== 'string' || text.trim() === '') return 'expected match expressions like "_SYSTEMD_UNIT=ssh.service + _COMM=sshd"'
  if (text.length > MAX_TEXT) return `expected at most ${MAX_TEXT} characters`
  const groups: string[][] = [[]]
  let terms = 0
  for (const token of text.split(/[ \t\r\n]+/).filter(t => t !== '')) {
    if (token === '+') {
      if (groups[groups.length - 1]?.length === 0) return '"+" must stand between two groups of FIELD=value terms'
      groups.push([])
      continue
    }
    const problem = termProblem(token)
    if (problem !== null) return problem
    if (++terms > MAX_TERMS) return `expected at most ${MAX_TERMS} terms`
    groups[groups.length - 1]?.push(token)
  }
  if (groups[groups.length - 1]?.length === 0) return '"+" must stand between two groups of FIELD=value terms'
  return normalise(groups)
}

function termProblem(token: string): string | null {
  const eq = token.indexOf('=')
  const shown = JSON.stringify(token.length > 60 ? `${token.slice(0, 59)}…` : token)
  if (eq < 0) return `${shown} is not FIELD=value`
  const field = token.slice(0, eq)
  const value = token.slice(eq + 1)
  if (!FIELD.test(field)) return `${shown}: a field name is A-Z, 0-9 and _ (not starting with a digit), at most 64 characters`
  if (value === '') return `${shown}: the value is empty`
  if (value.length > MAX_VALUE) return `${shown}: the value is longer than ${MAX_VALUE} characters`
  if (BAD_VALUE_CHAR.test(value)) return `${shown}: quotes and control characters are not allowed (values are taken literally and cannot hold spaces)`
  return null
}

/** Each group's terms sorted and deduplicated, groups sorted and
 *  deduplicated: equal matches have one form (and one cursor key). */
export function normalise(groups: readonly (readonly string[])[]): JournalMatch {
  const seen = new Map<string, readonly string[]>()
  for (const g of groups) {
    const terms = [...new Set(g)].sort()
    seen.set(terms.join(' '), terms)
  }
  return [...seen.keys()].sort().map(k => seen.get(k) ?? [])
}

/** Entries that match `a` or `b`. */
export function unionOf(a: JournalMatch, b: JournalMatch): JournalMatch {
  return normalise([...a, ...b])
}

/** journalctl's MATCHES arguments: `A=1 B=2 + C=3` as separate strings. */
export function matchArgs(m: JournalMatch): string[] {
  return m.flatMap((g, i) => (i === 0 ? [...g] : ['+', ...g]))
}

/** fail2ban's text form, e.g. `_COMM=sshd + _SYSTEMD_UNIT=ssh.service`. */
export function formatMatch(m: JournalMatch): string {
  return matchArgs(m).join(' ')
}
