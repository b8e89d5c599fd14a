// Whether a capture group of a Python regex always ends where the match
// ends: the group is an element of the pattern's top-level sequence (one
// branch, not under a quantifier, alternation or other group) and only
// zero-width nodes (anchors, \b, \B, lookarounds) follow it. fail2ban's
// prefregexes end so (`<F-CONTENT>.+</F-CONTENT>$`), and so do date
// templates (`(DATE)(?=\b|\W|$)`): then the group's text is the text from
// the match's end back by its length, found without searching or comparing.
// Conservative: any other shape says false.

import { parsePython } from './python-regex-parse.js'

const ZERO_WIDTH = new Set(['^', '$', 'A', 'Z', 'b', 'B'])

/** `group`: the group's name, or its number. */
export function groupEndsMatch(pattern: string, group: string | number): boolean {
  const { root } = parsePython(pattern)
  if (root.branches.length !== 1) return false
  const seq = root.branches[0] ?? []
  const at = seq.findIndex((n) => n.t === 'group' && n.kind === 'capture' && (typeof group === 'number' ? n.index === group : n.name === group))
  if (at < 0) return false
  return seq.slice(at + 1).every((n) => (n.t === 'esc' && ZERO_WIDTH.has(n.e)) || (n.t === 'group' && n.kind === 'look'))
}
