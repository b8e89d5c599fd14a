// Whether a named group of a Python regex always ends where the match ends:
// the group is an element of the pattern's top-level sequence (one branch,
// not under a quantifier, alternation or other group) and only end anchors
// (`$`, `\Z`) follow it. fail2ban's prefregexes end so
// (`<F-CONTENT>.+</F-CONTENT>$`): then the content is the text from the
// match's end back by the group's length, and the engine takes it as a
// slice of the searched text without comparing it character by character.
// Conservative: any other shape says false.

import { parsePython } from './python-regex-parse.js'

const END_ANCHORS = new Set(['$', 'Z'])

export function groupEndsMatch(pattern: string, name: string): boolean {
  const { root } = parsePython(pattern)
  if (root.branches.length !== 1) return false
  const seq = root.branches[0] ?? []
  const at = seq.findIndex((n) => n.t === 'group' && n.kind === 'capture' && n.name === name)
  if (at < 0) return false
  return seq.slice(at + 1).every((n) => n.t === 'esc' && END_ANCHORS.has(n.e))
}
