// A cheap prefilter for anchored regexes: which first characters can begin a
// match. fail2ban's failregexes start with `^` and (mostly) with literal
// text ("Failed ", "Invalid user", "pam_..."), so on a given line most of
// them cannot match at all; one charCodeAt and a table lookup says so
// without running the RegExp.
//
// leadChars(pattern) analyses the Python regex (python-regex-parse.ts) and
// returns a table of 128 entries (1: an ASCII character that may be the
// first character of a match) when every top-level alternative starts with
// `^` or `\A` (no MULTILINE), i.e. a match can only start at offset 0; else
// null (no prefilter). A character >= 128 always passes. The table is a
// superset: zero-width assertions (lookarounds, `\b`, `$`) are ignored,
// conditionals count both branches, backreferences, `.`, escapes like `\S`,
// negated classes and anything case-insensitive outside ASCII letters allow
// everything. A regex that can match the empty text at offset 0 allows
// everything too. So `table[c] === 0` proves that no match exists on a text
// whose first character is c: skipping the RegExp gives the same result.

import { parsePython, type Flags, type Node } from './python-regex-parse.js'

const ASCII = 128
type Lead = { set: Uint8Array | 'any'; nullable: boolean }

const isAsciiLetter = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)

/** Adds code point `c` (case variants when `i`); false when that needs 'any'. */
function addChar(set: Uint8Array, c: number, i: boolean): boolean {
  if (c >= ASCII) return !i // non-ASCII always passes; under `i` it may fold to ASCII (K, ſ)
  set[c] = 1
  if (i && isAsciiLetter(c)) set[c ^ 0x20] = 1
  return true
}

function union(a: Uint8Array | 'any', b: Uint8Array | 'any'): Uint8Array | 'any' {
  if (a === 'any' || b === 'any') return 'any'
  for (let c = 0; c < ASCII; c++) if (b[c] === 1) a[c] = 1
  return a
}

function leadSeq(nodes: readonly Node[], from: number, flags: Flags): Lead {
  let set: Uint8Array | 'any' = new Uint8Array(ASCII)
  for (let k = from; k < nodes.length; k++) {
    const node = nodes[k]
    if (node === undefined) break
    const r = lead(node, flags)
    set = union(set, r.set)
    if (set === 'any') return { set, nullable: false }
    if (!r.nullable) return { set, nullable: false }
  }
  return { set, nullable: true }
}

function lead(node: Node, flags: Flags): Lead {
  const i = flags.i === true
  switch (node.t) {
    case 'char': {
      const set = new Uint8Array(ASCII)
      return addChar(set, node.c, i) ? { set, nullable: false } : { set: 'any', nullable: false }
    }
    case 'class': {
      if (node.negate) return { set: 'any', nullable: false }
      const set = new Uint8Array(ASCII)
      for (const item of node.items) {
        if (item.t === 'esc') return { set: 'any', nullable: false }
        if (item.t === 'char') {
          if (!addChar(set, item.c, i)) return { set: 'any', nullable: false }
          continue
        }
        if (i && item.to >= ASCII) return { set: 'any', nullable: false }
        for (let c = item.from; c <= Math.min(item.to, ASCII - 1); c++) addChar(set, c, i)
      }
      return { set, nullable: false }
    }
    case 'esc':
      // zero-width: ^ $ \A \Z \b \B (an assertion only removes matches)
      if (['^', '$', 'A', 'Z', 'b', 'B'].includes(node.e)) return { set: new Uint8Array(ASCII), nullable: true }
      return { set: 'any', nullable: false }
    case 'backref':
      return { set: 'any', nullable: true }
    case 'group':
      if (node.kind === 'look') return { set: new Uint8Array(ASCII), nullable: true }
      return lead(node.body, node.flags === undefined ? flags : { ...flags, ...node.flags })
    case 'alt': {
      let set: Uint8Array | 'any' = new Uint8Array(ASCII)
      let nullable = false
      for (const b of node.branches) {
        const r = leadSeq(b, 0, flags)
        set = union(set, r.set)
        nullable ||= r.nullable
      }
      return { set, nullable }
    }
    case 'cond': {
      const y = leadSeq(node.yes, 0, flags)
      const n = leadSeq(node.no, 0, flags)
      return { set: union(union(new Uint8Array(ASCII), y.set), n.set), nullable: y.nullable || n.nullable }
    }
    case 'quant': {
      if (node.max === 0) return { set: new Uint8Array(ASCII), nullable: true }
      const r = lead(node.atom, flags)
      return { set: r.set, nullable: r.nullable || node.min === 0 }
    }
    default: {
      const never: never = node
      return never
    }
  }
}

/** See the file comment. `multiline`: the regex runs with Python's MULTILINE. */
export function leadChars(pattern: string, opts: { multiline?: boolean } = {}): Uint8Array | null {
  if (opts.multiline === true) return null
  let parsed
  try {
    parsed = parsePython(pattern)
  } catch {
    return null
  }
  if (parsed.flags.m === true) return null
  const flags: Flags = parsed.flags
  let set: Uint8Array | 'any' = new Uint8Array(ASCII)
  for (const branch of parsed.root.branches) {
    const first = branch[0]
    if (first === undefined || first.t !== 'esc' || (first.e !== '^' && first.e !== 'A')) return null
    const r = leadSeq(branch, 1, flags)
    if (r.nullable) return null
    set = union(set, r.set)
    if (set === 'any') return null
  }
  return set
}
