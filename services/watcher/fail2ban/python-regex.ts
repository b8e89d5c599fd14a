// Translates a Python `re` pattern to JavaScript RegExps with the same matches.
//
// Method and limits (documented once here):
// - `(?#…)`, `\A`, `\Z`, octal/hex escapes, literal `{` and Python's
//   identity escapes are rewritten. Named groups `(?P<n>…)` become plain
//   numbered captures (`groupIndex` maps the names; `(?P=n)` becomes `\N`):
//   V8 builds a `groups` object on every match of a RegExp with named
//   groups, which costs about a third of a short match; `.` is `[^\n]` (Python's
//   dot, not JS's), `^`/`$` keep Python's meaning (`$` also matches before a
//   final newline; with (?m) at every `\n`). The JS `m` flag is never used.
// - With the `u` flag (always tried first) `\d` is `\p{Nd}`, `\w` is
//   `[\p{L}\p{N}_]` and `\b`/`\B` are lookarounds over that class, as in
//   Python 3 str patterns. `\W`, inside a class with other members, stays
//   ASCII. Without `u` (fallback when the u-form does not compile), all of
//   them are ASCII.
// - Leading `(?i)` becomes the `i` flag; a scoped `(?i:…)` (Node 20 has no
//   modifiers) is emulated by turning letters into `[aA]` classes (classes
//   and ranges gain their ASCII counterparts; backreferences stay exact).
// - Conditionals `(?(g)yes|no)` do not exist in JS. The pattern is expanded
//   into variants, one per combination of "g took part"/"g did not" for each
//   referenced group g (at most MAX_CONDITION_GROUPS): "took part" keeps only
//   the alternatives on the way to g and makes optional quantifiers on that
//   way required; "did not" makes g itself unmatchable (`(?!)`). Removed
//   branches are kept behind `(?!)`, so group numbers do not move. Variants
//   are tried in Python's preference order and the first match wins; for
//   anchored patterns (fail2ban's) this is Python's result; an unanchored
//   pattern may find a later match than Python would. A group repeated by a
//   loop, or a condition placed before its group, is approximated.
// - No quantifier is added that nests another: the output's backtracking
//   is the input's. `risks` names nested unbounded quantifiers of the input.

import { parsePython, unsupported, type Alt, type ClassItem, type Flags, type Group, type Node } from './python-regex-parse.js'
import { requiredLiterals } from './required-literals.js'

export const MAX_CONDITION_GROUPS = 4

export type TranslatedRegex = Readonly<{
  /** One RegExp, or several for conditionals, tried in order. */
  variants: readonly RegExp[]
  /** Per variant: texts every match of it contains (required-literals.ts). */
  required: readonly (readonly string[])[]
  unicode: boolean
  groupNames: readonly string[]
  /** Named group -> its capture number in every variant. */
  groupIndex: ReadonlyMap<string, number>
  /** Nested unbounded quantifiers in the source (catastrophic backtracking candidates). */
  risks: readonly string[]
  /** The first match of any variant (see above), or null; `groups` holds
   *  the named groups (built here, for callers that want them by name). */
  exec(text: string): RegExpExecArray | null
}>

type Ctx = {
  flags: Flags
  unicode: boolean
  force: Map<Group, boolean>
  paths: Map<Group, Set<Node>>
  resolve: (ref: string | number) => Group
}

const WORD = '[\\p{L}\\p{N}_]'
const SYNTAX = new Set('^$\\.*+?()[]{}|/'.split(''))
const CLASS_SYNTAX = new Set('\\]^-['.split(''))

function lit(c: number, inClass: boolean, unicode: boolean): string {
  const s = String.fromCodePoint(c)
  if (c < 0x20 || c === 0x7f || (c >= 0xd800 && c <= 0xdfff)) return `\\u${c.toString(16).padStart(4, '0')}`
  if (c > 0xffff) return unicode ? s : `(?:${s})`
  return (inClass ? CLASS_SYNTAX : SYNTAX).has(s) ? `\\${s}` : s
}

function caseVariants(c: number): number[] {
  const s = String.fromCodePoint(c)
  const out = new Set([c])
  for (const v of [s.toLowerCase(), s.toUpperCase()]) if ([...v].length === 1) out.add(v.codePointAt(0) ?? c)
  return [...out]
}

function classItem(item: ClassItem, ctx: Ctx): string {
  const u = ctx.unicode
  switch (item.t) {
    case 'char':
      return (ctx.flags.i === true ? caseVariants(item.c) : [item.c]).map((c) => lit(c, true, u)).join('')
    case 'range': {
      let out = `${lit(item.from, true, u)}-${lit(item.to, true, u)}`
      if (ctx.flags.i === true) {
        for (const [lo, hi, shift] of [[0x61, 0x7a, -32], [0x41, 0x5a, 32]] as const) {
          const from = Math.max(lo, item.from)
          const to = Math.min(hi, item.to)
          if (from <= to) out += `${lit(from + shift, true, u)}-${lit(to + shift, true, u)}`
        }
      }
      return out
    }
    case 'esc':
      if (!u) return `\\${item.e}`
      if (item.e === 'd') return '\\p{Nd}'
      if (item.e === 'D') return '\\P{Nd}'
      if (item.e === 'w') return '\\p{L}\\p{N}_'
      return `\\${item.e}`
    default: {
      const never: never = item
      return never
    }
  }
}

function seq(nodes: readonly Node[], ctx: Ctx): string {
  return nodes.map((n) => emit(n, ctx)).join('')
}

function onPath(n: Node, ctx: Ctx, want: boolean): Group[] {
  return [...ctx.force].filter(([g, f]) => f === want && (g === n || ctx.paths.get(g)?.has(n) === true)).map(([g]) => g)
}

function emit(node: Node, ctx: Ctx): string {
  const u = ctx.unicode
  switch (node.t) {
    case 'alt': {
      const forced = onPath(node, ctx, true)
      return node.branches
        .map((b) => {
          const keep = forced.every((g) => b.some((n) => n === g || ctx.paths.get(g)?.has(n) === true))
          return (keep ? '' : '(?!)') + seq(b, ctx)
        })
        .join('|')
    }
    case 'group': {
      const inner: Ctx = node.flags === undefined ? ctx : { ...ctx, flags: { ...ctx.flags, ...node.flags } }
      const open = node.kind === 'capture' ? '(' : node.kind === 'look' ? (node.look ?? '(?:') : '(?:'
      const never = ctx.force.get(node) === false ? '(?!)' : ''
      return `${open}${never}${emit(node.body, inner)})`
    }
    case 'cond': {
      const g = ctx.resolve(node.ref)
      const took = ctx.force.get(g) === true
      return `(?:${took ? '' : '(?!)'}(?:${seq(node.yes, ctx)})|${took ? '(?!)' : ''}(?:${seq(node.no, ctx)}))`
    }
    case 'quant': {
      const min = node.min === 0 && onPath(node, ctx, true).length > 0 ? 1 : node.min
      const q = min === 0 && node.max === 1 ? '?' : min === 0 && node.max === Infinity ? '*' : min === 1 && node.max === Infinity ? '+'
        : node.max === Infinity ? `{${min},}` : min === node.max ? `{${min}}` : `{${min},${node.max}}`
      return `(?:${emit(node.atom, ctx)})${q}${node.lazy ? '?' : ''}`
    }
    case 'char': {
      const cs = ctx.flags.i === true ? caseVariants(node.c) : [node.c]
      return cs.length > 1 ? `[${cs.map((c) => lit(c, true, u)).join('')}]` : lit(node.c, false, u)
    }
    case 'class': {
      const only = node.items.length === 1 ? node.items[0] : undefined
      if (u && only?.t === 'esc' && only.e === 'W') return node.negate ? `[${WORD.slice(1, -1)}]` : `[^${WORD.slice(1, -1)}]`
      return `[${node.negate ? '^' : ''}${node.items.map((i) => classItem(i, ctx)).join('')}]`
    }
    case 'esc':
      return escape(node.e, ctx)
    case 'backref':
      return `(?:\\${typeof node.ref === 'number' ? node.ref : ctx.resolve(node.ref).index ?? 0})`
    default: {
      const never: never = node
      return never
    }
  }
}

function escape(e: string, ctx: Ctx): string {
  const u = ctx.unicode
  switch (e) {
    case '.': return ctx.flags.s === true ? '[\\s\\S]' : '[^\\n]'
    case '^': return ctx.flags.m === true ? '(?<=^|\\n)' : '^'
    case '$': return ctx.flags.m === true ? '(?=\\n|$)' : '(?=\\n?$)'
    case 'A': return '^'
    case 'Z': return '$'
    case 'd': return u ? '\\p{Nd}' : '\\d'
    case 'D': return u ? '\\P{Nd}' : '\\D'
    case 'w': return u ? WORD : '\\w'
    case 'W': return u ? `[^${WORD.slice(1, -1)}]` : '\\W'
    case 'b': return u ? `(?:(?<=${WORD})(?!${WORD})|(?<!${WORD})(?=${WORD}))` : '\\b'
    case 'B': return u ? `(?:(?<=${WORD})(?=${WORD})|(?<!${WORD})(?!${WORD}))` : '\\B'
    default: return `\\${e}` // s, S
  }
}

function collectPaths(root: Alt, targets: ReadonlySet<Group>): Map<Group, Set<Node>> {
  const paths = new Map<Group, Set<Node>>()
  const walk = (n: Node, stack: Node[]): void => {
    if (n.t === 'group' && targets.has(n)) paths.set(n, new Set(stack))
    stack.push(n)
    if (n.t === 'alt') for (const b of n.branches) for (const c of b) walk(c, stack)
    else if (n.t === 'group') walk(n.body, stack)
    else if (n.t === 'quant') walk(n.atom, stack)
    else if (n.t === 'cond') for (const c of [...n.yes, ...n.no]) walk(c, stack)
    stack.pop()
  }
  walk(root, [])
  return paths
}

function risks(root: Node): string[] {
  const out: string[] = []
  const walk = (n: Node, outer: boolean): void => {
    const unbounded = n.t === 'quant' && n.max === Infinity
    if (unbounded && outer) out.push('unbounded quantifier inside a repeated group')
    const rep = outer || (n.t === 'quant' && n.max > 1)
    if (n.t === 'alt') for (const b of n.branches) for (const c of b) walk(c, rep)
    else if (n.t === 'group' && n.kind !== 'look') walk(n.body, rep)
    else if (n.t === 'quant') walk(n.atom, rep)
    else if (n.t === 'cond') for (const c of [...n.yes, ...n.no]) walk(c, rep)
  }
  walk(root, false)
  return [...new Set(out)]
}

/** Translates `pattern` (multiline: Python's re.MULTILINE, as fail2ban sets
 *  for maxlines > 1). Throws BANLEDGER_REGEX_UNSUPPORTED with the pattern and
 *  the reason when a construct has no translation or the result does not compile. */
export function translatePythonRegex(pattern: string, opts: { multiline?: boolean } = {}): TranslatedRegex {
  const parsed = parsePython(pattern)
  const byName = new Map(parsed.groups.filter((g) => g.name !== undefined).map((g) => [g.name, g]))
  const resolve = (ref: string | number): Group => (typeof ref === 'number' ? parsed.groups[ref - 1] : byName.get(ref)) ?? (() => { throw unsupported(pattern, `reference to unknown group ${ref}`) })()
  const conds: Group[] = []
  const findConds = (n: Node): void => {
    if (n.t === 'cond') {
      const g = resolve(n.ref)
      if (!conds.includes(g)) conds.push(g)
    }
    if (n.t === 'alt') n.branches.forEach((b) => b.forEach(findConds))
    else if (n.t === 'group') findConds(n.body)
    else if (n.t === 'quant') findConds(n.atom)
    else if (n.t === 'cond') [...n.yes, ...n.no].forEach(findConds)
  }
  findConds(parsed.root)
  if (conds.length > MAX_CONDITION_GROUPS) throw unsupported(pattern, `conditionals on more than ${MAX_CONDITION_GROUPS} groups`)
  conds.sort((a, b) => (a.index ?? 0) - (b.index ?? 0))
  const paths = collectPaths(parsed.root, new Set(conds))
  const prefersAbsent = (g: Group): boolean => [...(paths.get(g) ?? [])].some((n) => n.t === 'quant' && n.atom === g && n.lazy)
  const assignments: Map<Group, boolean>[] = [new Map()]
  for (const g of conds) {
    const order = prefersAbsent(g) ? [false, true] : [true, false]
    assignments.splice(0, assignments.length, ...assignments.flatMap((a) => order.map((v) => new Map([...a, [g, v]]))))
  }
  const flags: Flags = { ...parsed.flags, ...(opts.multiline === true ? { m: true } : {}) }
  const build = (unicode: boolean): RegExp[] =>
    assignments.map((force) => {
      const ctx: Ctx = { flags: { ...flags, i: false }, unicode, force, paths, resolve }
      return new RegExp(emit(parsed.root, ctx), (parsed.flags.i === true ? 'i' : '') + (unicode ? 'u' : ''))
    })
  let variants: RegExp[]
  let unicode = true
  try {
    variants = build(true)
  } catch {
    unicode = false
    try {
      variants = build(false)
    } catch (e) {
      throw unsupported(pattern, `no JavaScript equivalent compiles (${(e as Error).message})`)
    }
  }
  const required = assignments.map((force) => {
    const ctx: Ctx = { flags, unicode, force, paths, resolve } // the real flags: a literal under (?i) is no literal
    return Object.freeze(requiredLiterals(parsed.root, {
      flags, force, resolve, forcedVia: (n) => onPath(n, ctx, true), leadsTo: (g, n) => paths.get(g)?.has(n) === true,
    }))
  })
  const groupIndex = new Map(parsed.groups.flatMap((g) => (g.name === undefined ? [] : [[g.name, g.index ?? 0] as const])))
  return Object.freeze({
    variants: Object.freeze(variants),
    required: Object.freeze(required),
    unicode,
    groupNames: Object.freeze([...groupIndex.keys()]),
    groupIndex,
    risks: Object.freeze(risks(parsed.root)),
    exec(text: string): RegExpExecArray | null {
      for (const re of variants) {
        const m = re.exec(text)
        if (m === null) continue
        if (groupIndex.size > 0) {
          const groups: Record<string, string | undefined> = {}
          for (const [name, i] of groupIndex) groups[name] = m[i]
          m.groups = groups as Record<string, string> // as V8's: a group that took no part is undefined
        }
        return m
      }
      return null
    },
  })
}
