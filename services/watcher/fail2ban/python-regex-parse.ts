// A parser for Python `re` patterns (str patterns, as fail2ban writes them)
// into a small syntax tree that python-regex.ts turns into JavaScript.

import { Fail2banError } from './errors.js'

export type Flags = Readonly<{ i?: boolean; s?: boolean; m?: boolean }>
export type Alt = { t: 'alt'; branches: Node[][] }
export type Group = {
  t: 'group'
  kind: 'capture' | 'plain' | 'look'
  /** for kind 'look': the JS opener '(?=', '(?!', '(?<=' or '(?<!' */
  look?: string
  name?: string
  index?: number
  flags?: Flags
  body: Alt
}
export type ClassItem = { t: 'char'; c: number } | { t: 'range'; from: number; to: number } | { t: 'esc'; e: string }
export type Node =
  | Alt
  | Group
  | { t: 'cond'; ref: string | number; yes: Node[]; no: Node[] }
  | { t: 'quant'; atom: Node; min: number; max: number; lazy: boolean }
  | { t: 'char'; c: number }
  | { t: 'class'; negate: boolean; items: ClassItem[] }
  /** \d \D \w \W \s \S . ^ $ \A \Z \b \B */
  | { t: 'esc'; e: string }
  | { t: 'backref'; ref: string | number }

export type Parsed = { root: Alt; flags: Flags; groups: Group[] }

export const unsupported = (pattern: string, reason: string): Fail2banError =>
  new Fail2banError('BANLEDGER_REGEX_UNSUPPORTED', `${reason} in Python regex ${JSON.stringify(pattern)}`)

const SIMPLE_ESC: Record<string, number> = { n: 10, t: 9, r: 13, f: 12, v: 11, a: 7 }
const CLASS_ESC = new Set(['d', 'D', 'w', 'W', 's', 'S'])
const QUANT = /^\{(\d*)(,(\d*))?\}/
const NAME = /^[\p{L}_][\p{L}\p{N}_]*$/u

export function parsePython(pattern: string): Parsed {
  let pos = 0
  let groupCount = 0
  const groups: Group[] = []
  const fail = (reason: string): never => {
    throw unsupported(pattern, `${reason} at offset ${pos}`)
  }
  const globalFlags: { i?: boolean; s?: boolean; m?: boolean } = {}
  const applyFlags = (letters: string, into: { i?: boolean; s?: boolean; m?: boolean }): void => {
    for (const f of letters) {
      if (f === 'i' || f === 's' || f === 'm') into[f] = true
      else if (f === 'u' || f === 'a') continue // str patterns are Unicode; 'a' is best effort (see README)
      else fail(`flag '${f}' is not supported`)
    }
  }

  const readCodePoint = (): number => {
    const c = pattern.codePointAt(pos) ?? fail('unexpected end')
    pos += c > 0xffff ? 2 : 1
    return c
  }

  /** After a backslash; returns a char code or an escape letter. */
  const parseEscape = (inClass: boolean): { c: number } | { e: string } | { ref: number } => {
    const ch = pattern[pos] ?? fail('trailing backslash')
    if (CLASS_ESC.has(ch)) return pos++, { e: ch }
    if (ch in SIMPLE_ESC) return pos++, { c: SIMPLE_ESC[ch] ?? 0 }
    if (ch === 'b' && inClass) return pos++, { c: 8 }
    if (!inClass && 'AZbB'.includes(ch)) return pos++, { e: ch }
    if (ch === 'x' || ch === 'u' || ch === 'U') {
      const n = ch === 'x' ? 2 : ch === 'u' ? 4 : 8
      const hex = pattern.slice(pos + 1, pos + 1 + n)
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) fail(`bad \\${ch} escape`)
      pos += 1 + n
      return { c: parseInt(hex, 16) }
    }
    if (/[0-7]/.test(ch)) {
      const oct = /^[0-7]{3}/.exec(pattern.slice(pos))
      if (ch === '0' || inClass || oct !== null) {
        const digits = /^[0-7]{1,3}/.exec(pattern.slice(pos))?.[0] ?? '0'
        pos += digits.length
        return { c: parseInt(digits, 8) }
      }
    }
    if (/[1-9]/.test(ch) && !inClass) {
      const digits = /^\d{1,2}/.exec(pattern.slice(pos))?.[0] ?? ch
      pos += digits.length
      return { ref: Number(digits) }
    }
    if (/[\p{L}\p{N}]/u.test(ch)) fail(`bad escape \\${ch}`)
    return { c: readCodePoint() }
  }

  const parseClass = (): Node => {
    const negate = pattern[pos] === '^'
    if (negate) pos++
    const items: ClassItem[] = []
    let first = true
    const atom = (): ClassItem => {
      if (pattern[pos] === '\\') {
        pos++
        const e = parseEscape(true)
        if ('e' in e) return { t: 'esc', e: e.e }
        if ('ref' in e) return fail('backreference in a class')
        return { t: 'char', c: e.c }
      }
      return { t: 'char', c: readCodePoint() }
    }
    while (pos < pattern.length) {
      if (pattern[pos] === ']' && !first) {
        pos++
        return { t: 'class', negate, items }
      }
      first = false
      const a = atom()
      if (pattern[pos] === '-' && pattern[pos + 1] !== ']' && pos + 1 < pattern.length) {
        pos++
        const b = atom()
        if (a.t !== 'char' || b.t !== 'char') fail('bad character range')
        else if (b.c < a.c) fail('bad character range')
        else items.push({ t: 'range', from: a.c, to: b.c })
        continue
      }
      items.push(a)
    }
    return fail('unterminated character set')
  }

  const parseGroup = (): Node | null => {
    // just after '('
    if (pattern[pos] !== '?') return capture(undefined)
    pos++
    const rest = pattern.slice(pos)
    if (rest.startsWith('P<')) {
      const end = rest.indexOf('>')
      const name = rest.slice(2, end)
      if (end < 0 || !NAME.test(name)) fail('bad group name')
      pos += end + 1
      return capture(name)
    }
    if (rest.startsWith('P=')) {
      const end = rest.indexOf(')')
      const name = rest.slice(2, end)
      if (end < 0 || !NAME.test(name)) fail('bad group reference')
      pos += end + 1
      return { t: 'backref', ref: name }
    }
    if (rest.startsWith('#')) {
      const end = rest.indexOf(')')
      if (end < 0) fail('unterminated comment')
      pos += end + 1
      return null
    }
    for (const [py, js] of [[':', ''], ['=', '(?='], ['!', '(?!'], ['<=', '(?<='], ['<!', '(?<!']] as const) {
      if (rest.startsWith(py)) {
        pos += py.length
        const body = parseAlt()
        return js === '' ? { t: 'group', kind: 'plain', body } : { t: 'group', kind: 'look', look: js, body }
      }
    }
    if (rest.startsWith('(')) {
      const end = rest.indexOf(')')
      const ref = rest.slice(1, end)
      if (end < 0 || !(NAME.test(ref) || /^\d+$/.test(ref))) fail('bad conditional reference')
      pos += end + 1
      const body = parseAlt()
      if (body.branches.length > 2) fail('conditional with more than two branches')
      return { t: 'cond', ref: /^\d+$/.test(ref) ? Number(ref) : ref, yes: body.branches[0] ?? [], no: body.branches[1] ?? [] }
    }
    const flags = /^([a-zA-Z]*)(?:-([a-zA-Z]+))?([:)])/.exec(rest)
    if (flags === null) return fail(`unsupported group (?${rest.slice(0, 3)}`)
    if (flags[2] !== undefined) fail('turning flags off is not supported')
    pos += flags[0].length
    const scoped: { i?: boolean; s?: boolean; m?: boolean } = {}
    applyFlags(flags[1] ?? '', scoped)
    if (flags[3] === ':') return { t: 'group', kind: 'plain', flags: scoped, body: parseAlt() }
    return { t: 'esc', e: `flags:${flags[1] ?? ''}` }
  }

  const capture = (name: string | undefined): Group => {
    if (name !== undefined && groups.some((g) => g.name === name)) fail(`redefinition of group name ${name}`)
    const g: Group = { t: 'group', kind: 'capture', index: ++groupCount, body: { t: 'alt', branches: [] } }
    if (name !== undefined) g.name = name
    groups.push(g)
    g.body = parseAlt()
    return g
  }

  /** Parses up to ')' (consumed) or the end (top level). */
  function parseAlt(): Alt {
    const top = pos === 0
    const start = pos
    const alt: Alt = { t: 'alt', branches: [[]] }
    let seq = alt.branches[0] ?? []
    let scope: { i?: boolean; s?: boolean; m?: boolean } | null = null
    while (pos < pattern.length) {
      const ch = pattern[pos]
      const at = pos
      pos++
      let node: Node | null
      if (ch === ')') {
        if (top) fail("unbalanced ')'")
        return scope === null ? alt : { t: 'alt', branches: [[{ t: 'group', kind: 'plain', flags: scope, body: alt }]] }
      } else if (ch === '|') {
        seq = []
        alt.branches.push(seq)
        continue
      } else if (ch === '(') {
        node = parseGroup()
        if (node?.t === 'esc' && node.e.startsWith('flags:')) {
          const letters = node.e.slice(6)
          const leading = seq.length === 0 && alt.branches.length === 1
          if (top && leading && /^(?:\(\?[a-zA-Z]*\))*$/.test(pattern.slice(start, at))) applyFlags(letters, globalFlags)
          else if (!top && leading) applyFlags(letters, (scope ??= {}))
          else fail('global flags not at the start of the expression')
          continue
        }
      } else if (ch === '[') node = parseClass()
      else if (ch === '.') node = { t: 'esc', e: '.' }
      else if (ch === '^') node = { t: 'esc', e: '^' }
      else if (ch === '$') node = { t: 'esc', e: '$' }
      else if (ch === '\\') {
        const e = parseEscape(false)
        node = 'e' in e ? { t: 'esc', e: e.e } : 'ref' in e ? { t: 'backref', ref: e.ref } : { t: 'char', c: e.c }
      } else if (ch === '*' || ch === '+' || ch === '?' || (ch === '{' && QUANT.test(pattern.slice(at)) && !/^\{\}/.test(pattern.slice(at)))) {
        const prev = seq.at(-1)
        if (prev === undefined || prev.t === 'quant' || (prev.t === 'esc' && '^$AZbB'.includes(prev.e))) fail('nothing to repeat')
        let min = ch === '+' ? 1 : 0
        let max = ch === '?' ? 1 : Infinity
        if (ch === '{') {
          const q = QUANT.exec(pattern.slice(at)) ?? fail('bad quantifier')
          pos = at + q[0].length
          min = q[1] === '' ? 0 : Number(q[1])
          max = q[2] === undefined ? min : q[3] === '' ? Infinity : Number(q[3])
          if (max < min) fail('min repeat greater than max repeat')
        }
        const lazy = pattern[pos] === '?'
        if (lazy) pos++
        if (pattern[pos] === '+') fail('possessive quantifiers are not supported')
        seq[seq.length - 1] = { t: 'quant', atom: prev as Node, min, max, lazy }
        continue
      } else {
        pos = at
        node = { t: 'char', c: readCodePoint() }
      }
      if (node !== null) seq.push(node)
    }
    if (!top) fail("missing ')'")
    return alt
  }

  const root = parseAlt()
  return { root, flags: globalFlags, groups }
}
