// Literal texts that every match of one translated variant contains
// (python-regex.ts expands conditionals into variants). A line that lacks
// one of them cannot match that variant, so `text.includes(literal)` can
// skip its RegExp without changing any result. The stock sshd "Failed"
// failregex has four variants that differ only in such literals
// ("invalid user ", ": "): on a line that matches the last, the others
// used to run to the end of the line before failing.
//
// The analysis reads the variant as python-regex.ts emits it (same kept
// alternatives, same forced groups and quantifiers) and is conservative:
// it keeps a literal only when it is a run of plain characters that the
// variant must match in sequence; anything case-insensitive, a class, an
// escape, an alternation with several live branches, an optional
// quantifier or a backreference ends the run and adds nothing.

import type { Flags, Group, Node } from './python-regex-parse.js'

/** A variant's view of the tree (python-regex.ts's emit context). */
export type VariantView = {
  flags: Flags
  /** Conditional groups: true = took part, false = unmatchable; absent: free. */
  force: ReadonlyMap<Group, boolean>
  /** The groups forced to take part that `n` leads to (n itself or an ancestor of theirs). */
  forcedVia(n: Node): readonly Group[]
  /** Whether `n` is on the way to group `g`. */
  leadsTo(g: Group, n: Node): boolean
  resolve(ref: string | number): Group
}

/** What one node contributes: `exact` when it always matches that very text
 *  (zero-width: ''), and the literals any match of it contains. */
type Req = { exact: string | null; lits: string[] }

const BREAK: Req = { exact: null, lits: [] }
const ZERO_WIDTH = new Set(['^', '$', 'A', 'Z', 'b', 'B'])

function sequence(nodes: readonly Node[], flags: Flags, v: VariantView): Req {
  const lits: string[] = []
  let run: string | null = ''
  let all = true
  const end = (): void => {
    if (run !== null && run !== '') lits.push(run)
    run = null
  }
  for (const n of nodes) {
    const r = node(n, flags, v)
    if (r.exact === null) {
      all = false
      end()
      run = ''
    } else run = (run ?? '') + r.exact
    lits.push(...r.lits) // in pattern order: after the run this node ended
  }
  if (all) return { exact: run ?? '', lits }
  end()
  return { exact: null, lits }
}

function node(n: Node, flags: Flags, v: VariantView): Req {
  switch (n.t) {
    case 'char':
      return flags.i === true ? BREAK : { exact: String.fromCodePoint(n.c), lits: [] }
    case 'esc':
      return ZERO_WIDTH.has(n.e) ? { exact: '', lits: [] } : BREAK
    case 'class':
    case 'backref':
      return BREAK
    case 'group': {
      if (n.kind === 'look') return { exact: '', lits: [] }
      if (v.force.get(n) === false) return BREAK // unmatchable here: whatever contains it fails anyway
      return node(n.body, n.flags === undefined ? flags : { ...flags, ...n.flags }, v)
    }
    case 'alt': {
      const forced = v.forcedVia(n)
      const live = n.branches.filter((b) => forced.every((g) => b.some((c) => c === g || v.leadsTo(g, c))))
      const only = live.length === 1 ? live[0] : undefined
      return only === undefined ? BREAK : sequence(only, flags, v)
    }
    case 'cond':
      return sequence(v.force.get(v.resolve(n.ref)) === true ? n.yes : n.no, flags, v)
    case 'quant': {
      const min = n.min === 0 && v.forcedVia(n).length > 0 ? 1 : n.min
      if (min === 0) return BREAK
      const r = node(n.atom, flags, v)
      if (r.exact !== null && min === n.max) return { exact: r.exact.repeat(min), lits: r.lits }
      return { exact: null, lits: r.exact !== null && r.exact !== '' ? [...r.lits, r.exact] : r.lits }
    }
    default: {
      const never: never = n
      return never
    }
  }
}

/** The literals every match of the variant of `root` seen through `v` contains. */
export function requiredLiterals(root: Node, v: VariantView): string[] {
  const r = node(root, v.flags, v)
  return r.exact !== null && r.exact !== '' ? [...r.lits, r.exact] : r.lits
}
