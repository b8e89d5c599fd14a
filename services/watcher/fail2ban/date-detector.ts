// fail2ban's date detection, reimplemented. A detector holds date templates
// (from a filter's `datepattern`, else fail2ban's default list) and finds
// the date of each line of one log, remembering which template and where
// matched last: it tries that one first, and moves templates that keep
// matching towards the front, as fail2ban's DateDetector does, so that the
// same line gets the same date (and the same text removed) as in fail2ban.
//
// datepattern forms (one per line): a Python regex with strptime fields
// (see strftime.ts), optionally prefixed `{^LN-BEG}` (at line start, after
// at most two non-word characters) or `{UNB}` (no word boundaries added);
// `{^LN-BEG}` alone (the default templates anchored at line start);
// `{DEFAULT}`; a regex containing `{DATE}` (each default template in its
// place); `{NONE}` (no date); `EPOCH`/`LEPOCH` (Unix time in s, resp. ms
// or µs), `{EPOCH}` inside a regex; `TAI64N`; `ISO8601`.
//
// Stateful and not pure: one detector per followed file. `now` is an input.

import { dateFields, expandStrftime, fieldSlot, SECONDS_SLOT, TimeParts, type DateFields } from './strftime.js'
import { translatePythonRegex, type TranslatedRegex } from './python-regex.js'
import { groupEndsMatch } from './group-at-end.js'

export type DateMatch = Readonly<{
  /** 'date': `time` holds the date; 'empty': the template matched no text
   *  (`{NONE}`, optional dates); 'invalid': the text is no valid date
   *  (e.g. 31 February). `time` is NaN unless 'date'. */
  kind: 'date' | 'empty' | 'invalid'
  /** ms since the epoch */
  time: number
  /** The date text, [matchStart, matchEnd) of the line; removed from the
   *  line before the failregex runs. */
  matchStart: number
  matchEnd: number
  template: string
}>

const LINE_BEGIN = 8
const LINE_END = 4
const WORD_BEGIN = 2
const WORD_END = 1

/** A match: whole [start, end), the date group [dateStart, dateEnd) and its
 *  text (`date`; undefined when the group took no part), the RegExp's match
 *  (read only; named groups by their number, see Template.fields). */
type Found = {
  start: number; end: number; dateStart: number; dateEnd: number
  date: string | undefined
  m: RegExpExecArray
}

/** One template. `search` behaves as Python's `re.search(line, pos, endpos)`;
 *  its Found is the template's own, refilled by the next search (a caller
 *  that keeps one across searches copies it). */
type Template = {
  readonly name: string
  readonly flags: number
  readonly weight: number
  hits: number
  search(line: string, pos?: number, endpos?: number): Found | null
  date(f: Found, now: number): number | null
  /** Translates the regex now (else on first use); throws BANLEDGER_REGEX_UNSUPPORTED. */
  compile(): void
}

/** A template from its bounded regex: the date is capture group `group`;
 *  `date` makes the template's date function from its named groups (name -> number).
 *  The regex is translated on first use: the default list has 31 templates,
 *  a log uses one or two, and translating them all (u-flag RegExps, twice:
 *  see compile()) took 65 ms, 2% of filter-test on 1,000,000 lines. A
 *  filter's own datepattern is compiled at once (DateDetector.append), so
 *  that an unsupported one fails when the filter loads. */
function template(
  b: { regex: string; flags: number; name: string }, weight: number, group: number,
  date: (groupIndex: ReadonlyMap<string, number>) => Template['date'],
): Template {
  const t: Template = {
    name: b.name, flags: b.flags, weight, hits: 0,
    search: (line, pos, endpos) => {
      t.compile()
      return t.search(line, pos, endpos)
    },
    date: (f, now) => {
      t.compile()
      return t.date(f, now)
    },
    compile: () => {
      const tr = translatePythonRegex(b.regex)
      t.search = compile(tr, group, groupEndsMatch(b.regex, group))
      t.date = date(tr.groupIndex)
      t.compile = () => undefined
    },
  }
  return t
}

/** fail2ban's default templates, in its order (our own table; same formats). */
const DEFAULTS: readonly string[] = [
  String.raw`%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?`,
  String.raw`(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
  String.raw`(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?`,
  String.raw`%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S`,
  String.raw`%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?`,
  String.raw`%m/%d/%ExY:%H:%M:%S`,
  String.raw`%m-%d-%ExY %k:%M:%S(?:\.%f)?`,
  'EPOCH',
  '{^LN-BEG}%H:%M:%S',
  '^<%m/%d/%Exy@%H:%M:%S>',
  '%Exy%Exm%Exd  ?%H:%M:%S',
  '%b %d, %ExY %I:%M:%S %p',
  '^%b-%d-%Exy %k:%M:%S',
  String.raw`%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?`,
  String.raw`(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
  String.raw`(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`,
  'TAI64N',
]
const ISO8601 = DEFAULTS[0] ?? ''

const LN_BEG = '{^LN-BEG}'
const UNB = '{UNB}'
const EPOCH_RE = String.raw`\d{10,11}\b(?:\.\d{3,6})?`
const LEPOCH_RE = String.raw`\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?`

/** Compiles Python regex text into Python's `re.search(line, pos, endpos)`;
 *  capture group `group` is the date text.
 *
 *  Speed: the `d` flag (match indices) makes every exec about 1 µs slower
 *  in V8, so each variant runs without it; the date group's position is
 *  then its text's only occurrence in the searched text (a unique
 *  occurrence must be where the group matched). Only when the text occurs
 *  twice or more (or is empty) is the match repeated with indices: same
 *  RegExp source, same text and lastIndex, so the same match. Before both:
 *  when the date group ends every match (`atEnd`, group-at-end.ts: only
 *  zero-width boundaries follow it, as bound() adds them), its span is the
 *  match's end back by its length, without searching the line. */
function compile(tr: TranslatedRegex, group: number, atEnd: boolean): Template['search'] {
  const fast = tr.variants.map((re) => new RegExp(re.source, `${re.flags}g`))
  let slow: RegExp[] | undefined // built on first need
  // the template's one Found, refilled by each search (see Template.search)
  const f: Found = { start: 0, end: 0, dateStart: 0, dateEnd: 0, date: undefined, m: NO_MATCH }
  const found = (start: number, end: number, dateStart: number, dateEnd: number, date: string | undefined, m: RegExpExecArray): Found => {
    f.start = start
    f.end = end
    f.dateStart = dateStart
    f.dateEnd = dateEnd
    f.date = date
    f.m = m
    return f
  }
  return (line, pos = 0, endpos = line.length) => {
    const text = endpos < line.length ? line.slice(0, endpos) : line
    for (let v = 0; v < fast.length; v++) {
      const re = fast[v] as RegExp
      re.lastIndex = pos
      const m = re.exec(text)
      if (m === null) continue
      const start = m.index
      const end = start + m[0].length
      const date = m[group]
      if (date === undefined) return found(start, end, start, end, date, m)
      if (atEnd) return found(start, end, end - date.length, end, date, m)
      if (date.length > 0) {
        const at = text.indexOf(date)
        if (at >= 0 && text.indexOf(date, at + 1) < 0) return found(start, end, at, at + date.length, date, m)
      }
      slow ??= tr.variants.map((re) => new RegExp(re.source, `${re.flags}dg`))
      const sre = slow[v] as RegExp
      sre.lastIndex = pos
      const d = sre.exec(text)
      if (d === null) return null // cannot happen: same regex, same input
      const whole = d.indices?.[0] ?? [d.index, d.index + d[0].length]
      const span = d.indices?.[group] ?? whole
      return found(whole[0], whole[1], span[0], span[1], d[group], d)
    }
    return null
  }
}
const NO_MATCH = /(?:)/.exec('') as RegExpExecArray

const escapedAt = (s: string, i: number): boolean => {
  let n = 0
  while (s[i - 1 - n] === '\\') n++
  return n % 2 === 1
}
/** A leading `^`, `(^`, `(?:^` or `**` (after opening parentheses): no word boundary before. */
const anchoredBegin = (r: string): boolean => {
  const s = r.replace(/^\(+/, '')
  return s.startsWith('^') || s.startsWith('**') || (s.startsWith('?:^') && s !== r)
}
/** A trailing unescaped `$`, `$)`, `\b`, `\s`, or `**` before closing parentheses. */
const anchoredEnd = (r: string): boolean => {
  const s = r.replace(/\)+$/, '')
  if (s.endsWith('**') && !escapedAt(s, s.length - 2)) return true
  return ['$', '$)', '\\b', '\\s'].some((tail) => r.endsWith(tail) && !escapedAt(r, r.length - tail.length))
}
const lineBegin = (r: string): boolean =>
  r.startsWith('^') || ((r.startsWith('(^') || r.startsWith('(?:^')) && r[r.indexOf('^') + 1] !== '|')
const lineEnd = (r: string): boolean => {
  const i = r.endsWith('$') ? r.length - 1 : r.endsWith('$)') ? r.length - 2 : -1
  return i >= 0 && r[i - 1] !== '\\' && r[i - 1] !== '|'
}
const hasCapture = (r: string): boolean => {
  for (let i = 0; i < r.length; i++) {
    if (r[i] === '\\') { i++; continue }
    if (r[i] === '(' && r[i + 1] !== '?') return true
  }
  return false
}

/** fail2ban's boundary rules for a template regex (Python text). */
function bound(regex0: string, wordBegin: boolean | 'start', wordEnd: boolean, name: string): { regex: string; flags: number; name: string } {
  let regex = regex0.trim()
  const gf = /\(\?[a-z]+\)/.exec(regex)
  if (gf !== null) regex = regex.slice(0, gf.index) + regex.slice(gf.index + gf[0].length)
  const boundBegin = wordBegin !== false && !anchoredBegin(regex)
  const boundEnd = wordEnd && !anchoredEnd(regex)
  if (!hasCapture(regex)) {
    const m = /^(\^?)([\s\S]*?)(\$?)$/.exec(regex)
    regex = `${m?.[1] ?? ''}(${m?.[2] ?? regex})${m?.[3] ?? ''}`
  }
  let flags = 0
  if (boundBegin) {
    if (wordBegin === 'start') {
      flags |= LINE_BEGIN
      regex = String.raw`^(?:\W{0,2})?` + regex
      if (!name.startsWith(LN_BEG)) name = LN_BEG + name
    } else {
      flags |= WORD_BEGIN
      regex = String.raw`(?=^|\b|\W)` + regex
    }
  }
  if (boundEnd) {
    flags |= WORD_END
    regex += String.raw`(?=\b|\W|$)`
  }
  if (lineBegin(regex)) flags |= LINE_BEGIN
  if (lineEnd(regex)) flags |= LINE_END
  regex = regex.replace(/^(\(*)\*\*/, '$1').replace(/(?<!\\)\*\*(\)*)$/, '$1')
  return { regex: (gf?.[0] ?? '') + regex, flags, name }
}

function patternTemplate(pattern: string, weight = 1): Template {
  let p = pattern
  let wordBegin: boolean | 'start' = true
  let wordEnd = true
  if (p.startsWith(UNB)) {
    p = p.slice(UNB.length)
    wordBegin = wordEnd = false
  }
  if (wordBegin !== false && p.startsWith(LN_BEG)) {
    p = p.slice(LN_BEG.length)
    wordBegin = 'start'
  }
  const { regex, alpha } = expandStrftime(p)
  const b = bound(alpha ? `(?i)${regex}` : regex, wordBegin, wordEnd, p)
  return template(b, weight, 1, (groupIndex) => {
    // one DateFields per template, refilled per match
    const fields: DateFields = dateFields({})
    const slots = [...groupIndex].map(([name, i]) => [fieldSlot(name), i] as const).filter(([slot]) => slot >= 0)
    const to = slots.map(([slot]) => slot)
    const from = slots.map(([, i]) => i)
    // fieldsToTime is a function of the field texts and `now` alone: the
    // last answer stands while they are the same (a log's lines come many
    // to the second), and the work on the fields other than the seconds
    // (TimeParts.prepare) while those and `now` are (many to the minute)
    let lastNow = NaN
    let lastTime: number | null = null
    const parts = new TimeParts()
    return (f, now) => {
      /** 0: every field the same; 1: only the seconds differ; 2: more (or now) */
      let changed = now === lastNow ? 0 : 2
      for (let k = 0; k < to.length; k++) {
        const slot = to[k] as number
        const v = f.m[from[k] as number]
        if (fields[slot] !== v) {
          if (slot !== SECONDS_SLOT) changed = 2
          else if (changed === 0) changed = 1
        }
        fields[slot] = v
      }
      if (changed === 0) return lastTime
      if (changed === 2) parts.prepare(fields, now)
      lastNow = now
      lastTime = parts.finish(fields)
      return lastTime
    }
  })
}

function epochTemplate(kind: 'plain' | 'line' | 'pattern', long: boolean, pattern = '', weight = 1): Template {
  const ep = long ? LEPOCH_RE : EPOCH_RE
  let b: { regex: string; flags: number; name: string }
  let group = 1
  if (kind === 'pattern') {
    b = bound(`(${pattern.replace(/(?<!\\)\{L?EPOCH\}/gi, `(${ep})`)})`, true, true, pattern)
    group = 2
  } else if (kind === 'plain') {
    // at line start, just after a leading `[` (closed right after), or in `audit(T:N)`
    b = bound(String.raw`((?:^|(?<=^\[)(?=${ep}\])|(?<=\baudit\()(?=${ep}:\d+\)))${ep})`, false, true, long ? 'LongEpoch' : 'Epoch')
  } else {
    b = bound(`(${ep})`, 'start', true, long ? 'LongEpoch' : 'Epoch')
  }
  return template(b, weight, group, () => f => {
    let v = Number(f.date ?? '')
    const text = f.date ?? ''
    if (long && text.length >= 13) v = text.length >= 16 && !text.includes('.') ? v / 1e6 : v / 1e3
    return Number.isFinite(v) ? Math.round(v * 1000 * 1000) / 1000 : null
  })
}

function tai64nTemplate(start: boolean, weight = 1): Template {
  const b = bound('@[0-9a-f]{24}', start ? 'start' : false, true, 'TAI64N')
  return template(b, weight, 1, () => f => parseInt((f.date ?? '').slice(2, 17), 16) * 1000)
}

/** A template for one datepattern line that is not a keyword for a list. */
function singleTemplate(pattern: string, weight = 1): Template {
  const key = pattern.includes('%') ? pattern : pattern.toUpperCase()
  if (key.includes('EPOCH')) {
    if (/(?<!\\)\{L?EPOCH\}/i.test(pattern)) return epochTemplate('pattern', key.includes('LEPOCH'), pattern, weight)
    for (const long of [false, true]) {
      const k = long ? 'LEPOCH' : 'EPOCH'
      if (key === k) return epochTemplate('plain', long, '', weight)
      if (key === `${LN_BEG}${k}` || key === `^${k}`) return epochTemplate('line', long, '', weight)
    }
  }
  if (key === 'TAI64N') return tai64nTemplate(false, weight)
  if (key === `${LN_BEG}TAI64N` || key === '^TAI64N') return tai64nTemplate(true, weight)
  if (key === 'ISO8601') return patternTemplate(ISO8601, weight)
  if (key === `${LN_BEG}ISO8601`) return patternTemplate(LN_BEG + ISO8601, weight)
  return patternTemplate(pattern, weight)
}

const unbound = (p: string): string => p.replace(/^\{UNB\}/, '').replace(/^\{\^LN-BEG\}/, '')

let defaultList: { anchored: readonly string[]; all: readonly string[] } | undefined
/** The default list: an anchored (`{^LN-BEG}`, weight 100) copy of each
 *  unanchored default first, then the defaults themselves. */
function defaults(): { anchored: readonly string[]; all: readonly string[] } {
  defaultList ??= {
    anchored: DEFAULTS.filter((p) => !p.startsWith(LN_BEG) && !p.startsWith('^')).map((p) => LN_BEG + p),
    all: DEFAULTS,
  }
  return defaultList
}

type Slot = { t: Template; hits: number; lastUsed: number; distance: number }

export type DateDetectorStats = ReadonlyMap<string, number>

/** DateDetector.find()'s results. */
export const NONE = 0
export const DATE = 1
export const EMPTY = 2
export const INVALID = 3
const KINDS: readonly (DateMatch['kind'] | undefined)[] = [undefined, 'date', 'empty', 'invalid']
const NO_TEMPLATE: Template = { name: '', flags: 0, weight: 0, hits: 0, search: () => null, date: () => null, compile: () => undefined }

/** What a filter asks of a date detector, a line at a time in log order:
 *  find() and its results. A DateDetector, or one that finds the same for
 *  the same lines elsewhere (filter-test's dating thread). */
export interface LineDater {
  /** NONE, DATE, EMPTY or INVALID; the rest in time, matchStart, matchEnd. */
  find(line: string, now: number): number
  readonly time: number
  readonly matchStart: number
  readonly matchEnd: number
  /** Successful detections per template name (in the order of first use). */
  readonly used: ReadonlyMap<string, number>
}

export class DateDetector implements LineDater {
  private readonly slots: Slot[] = []
  private readonly names = new Set<string>()
  /** Where the last match was: [lastStart, lastEnd) of lastLine (fail2ban's
   *  lastPos/lastEndPos; their characters are read from the line when needed). */
  private lastLine: string | null = null
  private lastStart = 1
  private lastEnd = 0x7fffffff
  private lastIdx = 0x7fffffff
  private firstUnused = 0
  private readonly usedMap = new Map<string, number>()
  private counting: Template | null = null
  private count = 0
  /** The template of matchTime's last match. */
  private lastTemplate: Template = NO_TEMPLATE
  /** find()'s last result (see find). */
  time = NaN
  matchStart = 0
  matchEnd = 0
  template = ''

  /** `datepattern`: a filter's option (lines), or null for the defaults. */
  constructor(datepattern: string | null = null) {
    const lines = (datepattern ?? '').split(/\n+/).map((l) => l.trim()).filter((l) => l !== '')
    if (lines.length === 0) this.addDefaults(() => true)
    for (const l of lines) this.append(l)
  }

  get templates(): readonly string[] {
    return this.slots.map((s) => s.t.name)
  }

  private add(t: Template, ignoreDup: boolean): void {
    if (this.names.has(t.name)) {
      if (ignoreDup) return
      throw new TypeError(`there is already a date template named ${t.name}`)
    }
    this.names.add(t.name)
    this.slots.push({ t, hits: 0, lastUsed: 0, distance: 0x7fffffff })
  }

  private addDefaults(keep: (t: Template) => boolean, wrap?: (p: string) => string): void {
    const ignoreDup = this.slots.length > 0
    const d = defaults()
    if (wrap !== undefined) {
      for (const p of d.all) {
        if (p === 'EPOCH' || p === 'TAI64N') continue // fail2ban would look for the literal word
        const t = patternTemplate(wrap(unbound(p)))
        t.compile()
        this.add(t, ignoreDup)
      }
      return
    }
    for (const p of [...d.anchored, ...d.all]) {
      const t = singleTemplate(p, d.anchored.includes(p) ? 100 : 1)
      if (keep(t)) this.add(t, ignoreDup)
    }
  }

  private append(pattern: string): void {
    const key = pattern.includes('%') ? pattern : pattern.toUpperCase()
    if (key === LN_BEG) return this.addDefaults((t) => (t.flags & LINE_BEGIN) !== 0)
    if (key === '{DEFAULT}') return this.addDefaults(() => true)
    if (key.includes('{DATE}')) return this.addDefaults(() => true, (p) => pattern.replace(/(?<!\\)\{DATE\}/gi, () => p))
    if (key === '{NONE}') return this.add(patternTemplate('{UNB}^'), false)
    const t = singleTemplate(pattern)
    t.compile()
    this.add(t, false)
  }

  /** The date of `line` (see DateMatch), or null when no template matches.
   *  `now` (ms) completes dates without a year. */
  detect(line: string, now: number): DateMatch | null {
    const kind = this.find(line, now)
    if (kind === NONE) return null
    return { kind: KINDS[kind] ?? 'invalid', time: this.time, matchStart: this.matchStart, matchEnd: this.matchEnd, template: this.template }
  }

  /** What detect() finds, without making an object: NONE, DATE, EMPTY or
   *  INVALID (DateMatch's kinds), the rest in time, matchStart, matchEnd
   *  and template (valid until the next call; for NONE, unchanged). */
  find(line: string, now: number): number {
    const f = this.matchTime(line, now)
    if (f === null) return NONE
    const t = this.lastTemplate
    this.matchStart = f.dateStart
    this.matchEnd = f.dateEnd
    this.template = t.name
    this.time = NaN
    if (f.dateEnd === f.dateStart) return EMPTY
    const time = t.date(f, now)
    if (time === null) return INVALID
    this.time = time
    if (this.counting !== t) {
      this.flushCount()
      this.counting = t
    }
    this.count++
    return DATE
  }

  /** Successful detections per template name (in the order of first use). */
  get used(): ReadonlyMap<string, number> {
    this.flushCount()
    return this.usedMap
  }

  /** Adds the pending count of `counting` to usedMap: a run of dates by one
   *  template is counted in `count` (no Map update per line); the template
   *  enters usedMap no later than the next template's first date, so in
   *  the same order as when each line updated it. */
  private flushCount(): void {
    const t = this.counting
    if (t === null || this.count === 0) return
    this.usedMap.set(t.name, (this.usedMap.get(t.name) ?? 0) + this.count)
    this.count = 0
  }

  /** The match (its template in lastTemplate), or null. */
  private matchTime(line: string, now: number): Found | null {
    const slots = this.slots
    let match: Found | null = null
    let best: { f: Found; i: number } | null = null
    let ignoreBySearch = 0x7fffffff
    let i = this.lastIdx
    let slot = slots[i]
    if (slot !== undefined) {
      const t = slot.t
      if (anchored(t)) {
        match = t.search(line)
        ignoreBySearch = i
      } else if (this.nearLast(line)) {
        match = t.search(line, this.lastStart, this.lastEnd)
      } else {
        match = t.search(line)
        ignoreBySearch = i
      }
      if (match !== null) t.hits++
      if (match !== null && !(slots.length === 1 || anchored(t) || (match.start === this.lastStart && match.end === this.lastEnd))) {
        best = { f: { ...match }, i } // a copy: the template may search again
        match = null
      }
    }
    if (match === null) {
      for (i = 0; i < slots.length; i++) {
        if (i === ignoreBySearch) continue
        slot = slots[i]
        if (slot === undefined) break
        match = slot.t.search(line)
        if (match === null) continue
        slot.t.hits++
        const distance = match.start
        if (i + 1 >= slots.length || anchored(slot.t)) break
        if (distance === 0 && slot.hits > 0 && (slots[i + 1]?.t.hits ?? 0) === 0) break
        if (distance > slot.distance || distance > this.lastStart) {
          if (best === null || distance < best.f.start) best = { f: { ...match }, i }
          match = null
          continue
        }
        break
      }
      if (match === null && best !== null) {
        match = best.f
        i = best.i
      }
    }
    slot = slots[i]
    if (match === null || slot === undefined) return null
    slot.hits++
    slot.lastUsed = now
    slot.distance = match.start
    if (this.firstUnused === i) this.firstUnused++
    this.lastLine = line
    this.lastStart = match.start
    this.lastEnd = match.end
    if (i !== 0 && i !== this.lastIdx) i = this.reorder(i)
    this.lastIdx = i
    this.lastTemplate = slot.t
    return match
  }

  /** fail2ban's test whether the last template's match may be at the same
   *  place in `line`: the characters around the last match's start and end
   *  are the same, or a non-alphanumeric boundary is. */
  private nearLast(line: string): boolean {
    const d = this.lastStart
    const e = this.lastEnd
    const prev = this.lastLine
    const before = prev === null ? '' : pySlice(prev, d - 1, d)
    const at = prev === null ? '' : prev.charAt(d)
    const last = prev === null ? '' : e >= 1 ? prev.charAt(e - 1) : prev.slice(-1)
    const after = prev === null ? '' : pySlice(prev, e, e + 1)
    return (pySlice(line, d - 1, d) === before || (pySlice(line, d, d + 1) === at && !alnum(at))) &&
      (pySlice(line, e, e + 1) === after || (pySlice(line, e - 1, e) === last && !alnum(last)))
  }

  /** Moves a template that matched towards the front when it has become
   *  heavier (hits x weight / distance) than the one in front, or that one
   *  is unused for 5 minutes. */
  private reorder(num: number): number {
    const slots = this.slots
    const s = slots[num]
    if (s === undefined) return num
    const weight = (x: Slot): number => (x.hits * x.t.weight) / Math.max(1, x.distance)
    const untime = s.lastUsed - 300_000
    let pos = this.firstUnused < num ? this.firstUnused : Math.floor(num / 2)
    const moveable = (): boolean => {
      const p = slots[pos]
      return p !== undefined && (weight(s) > weight(p) || untime > p.lastUsed)
    }
    if (!moveable()) {
      if (pos === num - 1) return num
      pos = num - 1
      if (!moveable()) return num
    }
    slots.splice(num, 1)
    slots.splice(pos, 0, s)
    while (this.firstUnused < slots.length && (slots[this.firstUnused]?.hits ?? 0) > 0) this.firstUnused++
    return pos
  }
}

const anchored = (t: Template): boolean => (t.flags & (LINE_BEGIN | LINE_END)) !== 0
const alnum = (c: string): boolean => /^[\p{L}\p{N}]+$/u.test(c)

/** Python's `s[a:b]` for a in [-1, len]. */
function pySlice(s: string, a: number, b: number): string {
  if (a < 0) return a === -1 && b === 0 ? '' : s.slice(a, b)
  return s.slice(a, b)
}

export const DATE_TEMPLATE_FLAGS = { LINE_BEGIN, LINE_END, WORD_BEGIN, WORD_END } as const
