// fail2ban's filter, reimplemented (semantics of its Filter.processLine and
// findFailure): one compiled filter follows one log. Per line: find and
// remove the date (date-detector.ts), keep the last `maxlines` lines, run
// prefregex (its <F-CONTENT> becomes the text the failregexes see),
// ignoreregex, then the failregexes, first match wins. <F-MLFID> joins the
// lines of one connection (their groups merge; <F-NOFAIL>, <F-MLFGAINED>
// and <F-MLFFORGET> as in fail2ban); a matched multi-line failure leaves the
// buffer; <SKIPLINES> lines stay in it.
//
// Stateful, one instance per followed file; never calls fail2ban.
// Security: lines are attacker-controlled and the caller caps their length.
// A translated stock regex with nested unbounded quantifiers (python-regex
// `risks`) can backtrack for long on a crafted line; such a regex is not run
// on a text longer than `maxRiskyLength` (default 4096 characters; counted
// in stats.riskySkipped). Other regexes run on any line the caller passes.

import { canonicalAddress } from '../../../ledger/rules/addresses.js'
import type { FilterMatch, LineFilter } from '../filters/filter.js'
import { truncateUser } from '../filters/filter.js'
import { DATE, DateDetector, EMPTY, NONE, type LineDater } from './date-detector.js'
import { Fail2banError } from './errors.js'
import { translatePythonRegex, type TranslatedRegex } from './python-regex.js'
import { leadChars } from './lead-chars.js'
import { groupEndsMatch } from './group-at-end.js'
import { expandTags, FAILURE_ID_GROUPS } from './tags.js'
import type { FilterDefinition } from './filter-reader.js'

export type EngineResult = Readonly<{
  /** ms since the epoch: the line's date, `now` for journal lines (and,
   *  flagged `undated`, for a line whose date is missing or invalid). */
  time: number
  /** The raw failure id: <F-ID> if captured, else the address or DNS name as written. */
  host: string
  /** canonicalAddress(host), or null. */
  ip: string | null
  user?: string
  /** Not a failure (<F-NOFAIL>, <F-MLFGAINED>): a line of a connection that may still turn into one. */
  nofail?: boolean
  /** Index of the failregex (or, with `ignored`, the failregex that matched). */
  regexIndex: number
  /** A failregex matched, and so did an ignoreregex: not a failure. */
  ignored?: boolean
  undated?: boolean
  /** Lines that make up this failure so far (fail2ban's "attempts"). */
  attempts: number
}>

export type EngineStats = {
  lines: number
  matched: number
  ignored: number
  missed: number
  /** Hits per failregex (index as in the definition). */
  perRegex: number[]
  /** Date template name -> lines dated by it. */
  dateTemplates: ReadonlyMap<string, number>
  undated: number
  riskySkipped: number
}

export interface Fail2banFilter {
  /** The first failure of `line` (or a nofail/ignored result), or null. */
  process(line: string, now: number): EngineResult | null
  /** process() of `lineNL` without its last character, which must be the
   *  \n that ended the line in the log: the text + \n the regexes search
   *  is then a slice of `lineNL` (no concatenation, which V8 copies into a
   *  flat string on the first search) whenever the date starts the line or
   *  there is none. Same results as process(). */
  processTerminated(lineNL: string, now: number): EngineResult | null
  /** Every result of `line` (several only with checkAllRegex). */
  processAll(line: string, now: number): EngineResult[]
  readonly stats: Readonly<EngineStats>
}

export type CompileOptions = {
  /** fail2ban's usedns; 'no' makes <HOST> match addresses only. Names are never resolved. */
  useDns?: 'no' | 'raw' | 'yes' | 'warn'
  /** Journal lines carry no date: their time is `now`. Default: the filter's logtype option. */
  journal?: boolean
  /** fail2ban-regex/test mode: run every failregex on a line, not only up to the first match. */
  checkAllRegex?: boolean
  maxRiskyLength?: number
  /** false: `ip` is always null, canonicalAddress is not computed (for a
   *  caller that reads `host` only: filter-test). Default true. */
  addresses?: boolean
  /** Finds the lines' dates instead of a DateDetector of the filter's
   *  datepattern (it must find what that one would; unused for journal lines). */
  dater?: LineDater
}

/** An EngineResult under construction (keys added in EngineResult's order). */
type Building = { -readonly [K in keyof EngineResult]?: EngineResult[K] } & { time: number; host: string; ip: string | null; regexIndex: number }
/** A failure's fields: fail2ban's dict of named groups and its own keys
 *  (matches, users...), as an array with one slot per name the filter
 *  uses (Slots); undefined is absent. Keyed by name, each regex's groups
 *  would make objects of another shape, and every access by a variable
 *  name would take V8's slowest path. */
type Groups = unknown[]

/** The names of a filter's Groups slots. */
class Slots {
  private readonly map = new Map<string, number>()
  /** What blank() copies (a copy of a packed array takes a third of the
   *  time of new Array(n).fill()); null when a slot was added since. */
  private empty: Groups | null = null
  of(name: string): number {
    let slot = this.map.get(name)
    if (slot === undefined) {
      slot = this.map.size
      this.map.set(name, slot)
      this.empty = null
    }
    return slot
  }

  /** A Groups with every slot absent. */
  blank(): Groups {
    this.empty ??= new Array<unknown>(this.map.size).fill(undefined)
    return this.empty.slice()
  }
}

/** The literals the failregexes' variants require (Rx.needs), by id, and
 *  whether the text last searched contains each: the failregexes that one
 *  text meets often test the same literals (sshd's two "Failed" regexes
 *  test ": " and " for invalid user " four times a line between them),
 *  and each includes() is a search of the text. */
export class Literals {
  private readonly ids = new Map<string, number>()
  private readonly texts: string[] = []
  /** Per id: the generation its answer is for, and the answer. */
  private gen = new Int32Array(0)
  private found = new Uint8Array(0)
  private current = 0
  private text = ''
  id(lit: string): number {
    let id = this.ids.get(lit)
    if (id === undefined) {
      id = this.texts.length
      this.ids.set(lit, id)
      this.texts.push(lit)
      this.gen = new Int32Array(this.texts.length)
      this.found = new Uint8Array(this.texts.length)
      this.current = 0
      this.text = ''
    }
    return id
  }

  /** text.includes(literal `id`), remembered while the text is the same. */
  in(text: string, id: number): boolean {
    if (text !== this.text || this.current === 0) {
      this.text = text
      this.current = this.current === 0x7fffffff ? 1 : this.current + 1
      if (this.current === 1) this.gen.fill(0)
    }
    if (this.gen[id] === this.current) return this.found[id] === 1
    const yes = text.includes(this.texts[id] as string)
    this.gen[id] = this.current
    this.found[id] = yes ? 1 : 0
    return yes
  }
}

/** The text the regexes see: the buffered lines (each without its date), each ended by \n. */
const join = (lines: readonly string[]): string => (lines.length === 1 ? `${lines[0] ?? ''}\n` : `${lines.join('\n')}\n`)
const NO_LINES: readonly string[] = Object.freeze([])
const NO_TEMPLATES: ReadonlyMap<string, number> = new Map()
/** A one-line filter's buffer: only its length is ever read (the text is
 *  passed as is), so one array serves every line. */
const ONE_LINE: readonly string[] = Object.freeze([''])
const truthy = (v: unknown): boolean => v !== undefined && v !== null && v !== '' && v !== 0 && v !== false
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
/** fail2ban keeps the lines of a failure ("matches"); only their number is
 *  ever read here, so a failure keeps the count. */
const count = (v: unknown): number => (typeof v === 'number' ? v : 0)
// eslint-disable-next-line no-control-regex -- Python's line breaks include these controls
const PY_LINES = new RegExp('\\r\\n|[\\n\\r\\v\\f\\x1c-\\x1e\\x85\\u2028\\u2029]') // Python's str.splitlines

class Rx {
  readonly tr: TranslatedRegex
  readonly risky: boolean
  /** First characters that can start a match (lead-chars.ts), or null. */
  private readonly lead: Uint8Array | null
  private readonly variants: readonly RegExp[]
  /** Per variant: the literals it requires that not every variant does
   *  (required-literals.ts); a text without one of them skips the variant. */
  private readonly needs: readonly (readonly number[])[]
  /** The named groups: capture numbers and Groups slots, in parallel. */
  private readonly index: readonly number[]
  private readonly slot: readonly number[]
  /** alt_X groups, sorted by name: [slot of alt_X, slot of X]. */
  private readonly alt: readonly (readonly [number, number])[]
  /** Whether the content group ends where every match ends (group-at-end.ts). */
  readonly contentAtEnd: boolean
  /** Buffer lines the last match spans, and the others. */
  matched: readonly string[] = NO_LINES
  unmatched: readonly string[] = NO_LINES
  constructor(readonly source: string, readonly maxRisky: number, slots: Slots, private readonly literals: Literals, opts: { useDns: string; multiline: boolean }) {
    const expanded = expandTags(source, { useDns: opts.useDns })
    this.tr = translatePythonRegex(expanded, { multiline: opts.multiline })
    this.risky = this.tr.risks.length > 0
    this.lead = leadChars(expanded, { multiline: opts.multiline })
    this.contentAtEnd = groupEndsMatch(expanded, 'content')
    this.variants = this.tr.variants
    const req = this.tr.required
    this.needs = req.map((lits) => lits.filter((l) => !req.every((other) => other.some((o) => o.includes(l)))).map((l) => literals.id(l)))
    this.index = [...this.tr.groupIndex.values()]
    this.slot = [...this.tr.groupIndex.keys()].map((k) => slots.of(k))
    this.alt = this.tr.groupNames.flatMap((k): [string, string][] => {
      const m = /^alt_(.+?)(?:_\d+)?$/.exec(k)
      return m === null ? [] : [[k, m[1] ?? '']]
    }).sort().map(([k, n]) => [slots.of(k), slots.of(n)] as const)
  }

  /** Capture number of named group `name`, or 0. */
  groupNumber(name: string): number {
    return this.tr.groupIndex.get(name) ?? 0
  }

  /** Whether a text starting with ASCII character `c` passes the lead
   *  prefilter (search() returns null without running a RegExp if not). */
  allows(c: number): boolean {
    return this.lead === null || this.lead[c] === 1
  }

  get hasAlt(): boolean {
    return this.alt.length > 0
  }

  /** Python's Regex.search: the match (named groups by number, see
   *  groups()), and which buffer lines it spans (`matched`, `unmatched`). */
  search(buf: string, org: readonly string[], stats: EngineStats): RegExpExecArray | null {
    if (this.risky && buf.length > this.maxRisky) {
      stats.riskySkipped++
      return null
    }
    const lead = this.lead
    if (lead !== null) {
      const c = buf.charCodeAt(0)
      if (c < 128 && lead[c] === 0) return null
    }
    let m: RegExpExecArray | null = null
    const variants = this.variants
    const literals = this.literals
    for (let v = 0; v < variants.length && m === null; v++) {
      const needs = this.needs[v] as readonly number[]
      let k = 0
      while (k < needs.length && literals.in(buf, needs[k] as number)) k++
      if (k === needs.length) m = (variants[v] as RegExp).exec(buf)
    }
    if (m === null) return null
    if (org.length <= 1) {
      this.matched = org
      this.unmatched = NO_LINES
    } else {
      const start = m.index
      const end = m.index + m[0].length
      const lineStart = buf.lastIndexOf('\n', start) + 1
      const nl = buf.indexOf('\n', Math.max(0, end - 1))
      const lineEnd = nl < 0 ? buf.length : nl + 1
      const lineOf = (to: number): number => buf.slice(0, to).split('\n').length - 1
      const c1 = lineOf(lineStart)
      const c2 = lineOf(lineEnd)
      const matched = org.slice(c1, c2)
      const unmatched = org.slice(0, c1)
      let skipped = ''
      for (let n = 0; this.tr.groupIndex.has(`skiplines${n}`); n++) skipped += m[this.groupNumber(`skiplines${n}`)] ?? ''
      const lines = skipped.split(PY_LINES)
      if (lines[lines.length - 1] === '') lines.pop()
      let n = 0
      for (const s of lines) {
        const k = matched.slice(n).indexOf(s)
        if (k < 0) continue
        const [moved] = matched.splice(n + k, 1)
        if (moved !== undefined) unmatched.push(moved)
        n += k
      }
      unmatched.push(...org.slice(c2))
      this.matched = matched
      this.unmatched = unmatched
    }
    return m
  }

  /** Sets the named groups of `m` in `o` (a group that took no part as
   *  undefined), except slot `skip`; then each alt_X group fills an empty X. */
  groups(m: RegExpExecArray, o: Groups, skip = -1): Groups {
    const index = this.index
    const slot = this.slot
    for (let i = 0; i < slot.length; i++) {
      const s = slot[i] as number
      if (s !== skip) o[s] = m[index[i] as number]
    }
    for (const [k, n] of this.alt) if (n !== skip && truthy(o[k]) && !truthy(o[n])) o[n] = o[k]
    return o
  }

  /** Copies into `o` what groups() set in `g`: Object.assign(o, g) had `g`
   *  been an object with just those keys. */
  assign(g: Groups, o: Groups): Groups {
    for (const s of this.slot) o[s] = g[s]
    for (const [, n] of this.alt) if (g[n] !== undefined) o[n] = g[n]
    return o
  }
}

/** A connection's cache entry; `live` false once out of the map. */
type CacheEntry = { readonly k: string; v: Groups; until: number; live: boolean }
const CACHE_SIZE = 100
const CACHE_TIME = 300_000

/** fail2ban's Utils.Cache as the filter keeps connection ids: at most 100
 *  entries, each for 5 minutes; when full, set() first drops entries from
 *  the oldest on (insertion order) until it has dropped one that had not
 *  expired. The order is kept in `queue`, not by iterating the Map (an
 *  iterator and an entry pair per eviction, and a line with a new id
 *  evicts one): entries that left the map stay in it, dead, until they
 *  reach its head or it is compacted. */
export class MlfidCache {
  private readonly map = new Map<string, CacheEntry>()
  private queue: CacheEntry[] = []
  private head = 0
  /** A key get() did not find, until set(): set() then needs no lookup
   *  (evictions and unset only remove keys). */
  private absent: string | null = null
  get(k: string, now: number): Groups | undefined {
    const e = this.map.get(k)
    if (e === undefined) {
      this.absent = k
      return undefined
    }
    if (e.until > now) return e.v
    this.remove(e)
    this.absent = k
    return undefined
  }
  set(k: string, v: Groups, now: number): void {
    if (this.map.size >= CACHE_SIZE) {
      const queue = this.queue
      while (this.head < queue.length) {
        const e = queue[this.head++] as CacheEntry
        if (!e.live) continue
        this.remove(e)
        if (e.until > now && this.map.size < CACHE_SIZE) break
      }
    }
    const old = k === this.absent ? undefined : this.map.get(k)
    this.absent = null
    if (old !== undefined) {
      // a key still present keeps its place (a dict's order)
      old.v = v
      old.until = now + CACHE_TIME
      return
    }
    const e: CacheEntry = { k, v, until: now + CACHE_TIME, live: true }
    this.map.set(k, e)
    if (this.queue.length - this.head >= 2 * CACHE_SIZE) {
      this.queue = this.queue.slice(this.head).filter((x) => x.live)
      this.head = 0
    } else if (this.head >= 4 * CACHE_SIZE) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    this.queue.push(e)
  }
  unset(k: string): void {
    const e = this.map.get(k)
    if (e !== undefined) this.remove(e)
  }
  private remove(e: CacheEntry): void {
    this.map.delete(e.k)
    e.live = false
  }
}

/** canonicalAddress, remembered for IPv6 (an IPv4 address is checked
 *  faster than looked up): the same attackers come back line after line,
 *  and IPv6 text is parsed by hand (an unusual form through a URL).
 *  Bounded: cleared when full. */
class AddressCache {
  private readonly map = new Map<string, string | null>()
  get(host: string): string | null {
    if (!host.includes(':')) return canonicalAddress(host)
    let ip = this.map.get(host)
    if (ip === undefined) {
      ip = canonicalAddress(host)
      if (this.map.size >= 16_384) this.map.clear()
      this.map.set(host, ip)
    }
    return ip
  }
}

/** Compiles `def`. Throws BANLEDGER_REGEX_UNSUPPORTED / BANLEDGER_FILTER_INVALID. */
export function compileFilter(def: FilterDefinition, opts: CompileOptions = {}): Fail2banFilter {
  const useDns = opts.useDns ?? def.options['usedns'] ?? 'warn'
  const maxRisky = opts.maxRiskyLength ?? 4096
  const multi = def.maxlines > 1
  const checkAll = opts.checkAllRegex === true
  const journal = opts.journal ?? def.options['logtype'] === 'journal'
  const slots = new Slots()
  const literals = new Literals()
  const pref = def.prefregex === null ? null : new Rx(def.prefregex, maxRisky, slots, literals, { useDns, multiline: false })
  const fails = def.failregex.map((r) => new Rx(r, maxRisky, slots, literals, { useDns, multiline: multi }))
  const ignores = def.ignoreregex.map((r) => new Rx(r, maxRisky, slots, literals, { useDns, multiline: false }))
  const ids = [...FAILURE_ID_GROUPS, 'mlfid']
  const prefIds = pref?.tr.groupNames.some((g) => ids.includes(g)) === true
  for (const f of fails) {
    if (!prefIds && !f.tr.groupNames.some((g) => ids.includes(g))) {
      throw new Fail2banError('BANLEDGER_REGEX_UNSUPPORTED', `failregex ${JSON.stringify(f.source)}: no failure id (<HOST>, <ADDR>, <F-ID>, <F-MLFID>...)`)
    }
  }
  // the slots the engine reads: groups (if a regex has them) and fail2ban's own keys
  const CONTENT = slots.of('content')
  const MLFID = slots.of('mlfid')
  const NOFAIL = slots.of('nofail')
  const MLFGAINED = slots.of('mlfgained')
  const MLFFORGET = slots.of('mlfforget')
  const MLFPENDING = slots.of('mlfpending')
  const USER = slots.of('user')
  const [FID, IP4, IP6, DNS] = FAILURE_ID_GROUPS.map((g) => slots.of(g)) as [number, number, number, number]
  const MATCHES = slots.of('matches')
  const NOFAIL_MATCHES = slots.of('nofail-matches')
  /** fail2ban's set of users, of which only the size is read: the first
   *  user alone (FIRST_USER), a Set (USERS) from the second on, so that a
   *  failure with one user makes no Set. */
  const USERS = slots.of('users')
  const FIRST_USER = slots.of('users-first') // not a group name: those are words
  const prefContent = pref?.groupNumber('content') ?? 0
  /** The prefregex's groups other than content go into every failure. */
  const hasPre = pref !== null && pref.tr.groupNames.some((g) => g !== 'content')
  const detector: LineDater | null = journal ? null : (opts.dater ?? new DateDetector(def.datepattern))
  const stats: EngineStats = {
    lines: 0, matched: 0, ignored: 0, missed: 0, perRegex: fails.map(() => 0),
    get dateTemplates() {
      return detector?.used ?? NO_TEMPLATES
    },
    undated: 0, riskySkipped: 0,
  }
  const cache = new MlfidCache()
  const addresses = opts.addresses === false ? null : new AddressCache()
  /** The failregexes in order, and per ASCII first character those whose
   *  lead prefilter allows it (Rx.allows): a one-line filter without
   *  checkAllRegex searches one text with all of them (the loop ends at
   *  the first match), so the others would return null at once; skipping
   *  them saves 20 calls a line with sshd's 21. */
  const ALL: readonly number[] = fails.map((_, i) => i)
  const byLead: (readonly number[])[] = []
  for (let c = 0; c < 128; c++) byLead.push(ALL.filter((i) => fails[i]?.allows(c) === true))
  /** The last `maxlines` lines (multi-line filters only). */
  let buffer: readonly string[] = NO_LINES
  let lastDate: number | null = null
  /** The current line's results, results[0, resultCount) (reused: process()
   *  hands out one of them; a count, as truncating the array by its length
   *  took the slow path of V8's length setter). */
  const results: EngineResult[] = []
  let resultCount = 0
  const add = (r: EngineResult): void => {
    results[resultCount++] = r
  }

  /** fail2ban's failure id: <F-ID>, else the address or name. */
  const hostOf = (fail: Groups): string | undefined => str(fail[FID]) ?? str(fail[IP4]) ?? str(fail[IP6]) ?? str(fail[DNS])
  /** `delete fail[slot]` */
  const unset = (fail: Groups, slot: number): void => {
    fail[slot] = undefined
  }

  const updateUsers = (fail: Groups, user: unknown): number => {
    const set = fail[USERS]
    if (!truthy(user)) return set instanceof Set ? set.size : fail[FIRST_USER] === undefined ? 0 : 1
    const name = String(user)
    if (set instanceof Set) return set.add(name).size
    if (set !== undefined) throw new TypeError('a failure\'s "users" is not a set') // a failregex group named users
    const first = fail[FIRST_USER]
    if (first === undefined) {
      fail[FIRST_USER] = name
      return 1
    }
    if (first === name) return 1
    fail[USERS] = new Set([first, name])
    return 2
  }

  const ignoreLine = (buf0: string, org0: readonly string[], rx: Rx | null): number | null => {
    let org = org0
    let buf = buf0
    if (rx !== null && multi) {
      org = rx.matched
      buf = join(org)
    }
    let found: number | null = null
    for (const [i, ig] of ignores.entries()) {
      if (ig.search(buf, org, stats) === null) continue
      found = i
      if ((!checkAll || multi) && rx !== null) buffer = rx.unmatched
      if (!checkAll) break
    }
    return found
  }

  const mergeFailure = (mlfid: string, fail0: Groups, rx: Rx, now: number): Groups => {
    let fail = fail0
    const cached = cache.get(mlfid, now)
    let users = 0
    let nf = 0
    if (truthy(fail[MLFGAINED])) {
      nf |= 8 | 1
      if (!truthy(fail[NOFAIL])) fail[NOFAIL] = fail[MLFGAINED]
    } else if (truthy(fail[NOFAIL])) nf |= 1
    const forget = fail[MLFFORGET]
    unset(fail, MLFFORGET)
    if (truthy(forget)) nf |= 2
    if (cached !== undefined) {
      users = updateUsers(cached, fail[USER])
      if (truthy(cached[NOFAIL])) nf |= 4
      unset(cached, NOFAIL)
      if (truthy(cached[MLFGAINED])) nf |= 4
      unset(cached, MLFGAINED)
      if ((nf & 8) !== 0) unset(cached, MLFPENDING)
      if ((nf & 4) === 0 && !truthy(cached[MLFPENDING])) unset(cached, MATCHES)
      for (let s = 0; s < fail.length; s++) {
        const v = fail[s]
        if (v !== undefined && v !== null) cached[s] = v
      }
      fail = cached
      if ((nf & 2) !== 0) cache.unset(mlfid)
    } else if ((nf & 2) === 0) {
      users = updateUsers(fail, fail[USER])
      cache.set(mlfid, fail, now)
    }
    const pending = fail[MLFPENDING]
    unset(fail, MLFPENDING)
    if (truthy(pending) || users > 1) {
      unset(fail, NOFAIL)
      unset(fail, MLFGAINED)
      nf &= ~(8 | 1)
    }
    if ((nf & 1) === 0) {
      let n = count(fail[NOFAIL_MATCHES]) + count(fail[MATCHES])
      unset(fail, NOFAIL_MATCHES)
      if ((nf & 8) === 0) n += rx.matched.length
      fail[MATCHES] = n
    } else if ((nf & 3) === 1) {
      fail[NOFAIL_MATCHES] = count(fail[NOFAIL_MATCHES]) + rx.matched.length
    }
    return fail
  }

  /** fail2ban's findFailure on the buffer (multi-line filters) or on `text`,
   *  the line without its date (one-line filters); adds to `results`. */
  const findFailure = (text: string, textNL: string | null, date: number | null, now: number): void => {
    let org = ONE_LINE
    let buf: string | null
    if (multi) {
      buffer = [...buffer, text].slice(-def.maxlines)
      org = buffer
      buf = join(org)
    } else buf = textNL ?? `${text}\n`
    if (ignores.length > 0 && ignores.length < fails.length - 2 && ignoreLine(buf, org, null) !== null) {
      add({ time: date ?? now, host: '', ip: null, regexIndex: -1, ignored: true, attempts: 0 })
      return
    }
    let pm: RegExpExecArray | null = null
    /** The text the failregexes see when it is not the buffer (one-line filters). */
    let single = buf
    if (pref !== null) {
      pm = pref.search(buf, org, stats)
      if (pm === null) return
      const content = pref.hasAlt ? pref.groups(pm, slots.blank())[CONTENT] : prefContent > 0 ? pm[prefContent] : undefined
      if (truthy(content)) {
        const c = String(content)
        // content + '\n': a slice of the buffer when it ends so (no copy);
        // known without comparing when the content ends the match and the
        // match ends before the buffer's last \n
        const end = buf.length - 1
        const atEnd = pref.contentAtEnd && !pref.hasAlt && pm.index + (pm[0]?.length ?? 0) === end
        single = buf.charCodeAt(end) === 10 && (atEnd || buf.endsWith(c, end)) ? buf.slice(end - c.length) : `${c}\n`
        buffer = multi ? [c] : NO_LINES
        buf = null
      }
    }
    // one text for every failregex (see byLead): only those its first character allows
    const order = multi || checkAll ? ALL : (byLead[single.charCodeAt(0)] ?? ALL)
    for (let j = 0; j < order.length; j++) {
      const index = order[j] as number
      const rx = fails[index] as Rx
      buf ??= multi ? join(buffer) : single
      const m = rx.search(buf, org, stats)
      if (m === null) continue
      let fail = slots.blank()
      if (hasPre && pm !== null && pref !== null) pref.groups(pm, fail, CONTENT)
      fail = rx.hasAlt && hasPre ? rx.assign(rx.groups(m, slots.blank()), fail) : rx.groups(m, fail)
      if (ignores.length > 0 && ignoreLine(buf, org, rx) !== null) {
        buf = null
        add({ time: date ?? now, host: hostOf(fail) ?? '', ip: null, regexIndex: index, ignored: true, attempts: 0 })
        if (!checkAll) break
        continue
      }
      if (!checkAll || multi) {
        buffer = rx.unmatched
        buf = null
      }
      const mlfid = str(fail[MLFID])
      let early = false
      if (mlfid !== undefined) {
        fail = mergeFailure(mlfid, fail, rx, now)
        if (truthy(fail[NOFAIL]) && !checkAll) early = true
      } else {
        fail[MATCHES] = count(fail[MATCHES]) + rx.matched.length
      }
      const host = hostOf(fail) ?? null
      if (host === null && !early) {
        fail[MLFPENDING] = 1
        if (!checkAll) return
        continue
      }
      if (host !== null) {
        const user = str(fail[USER])
        const r: Building = { time: date ?? now, host, ip: addresses === null ? null : addresses.get(host), regexIndex: index }
        if (user !== undefined) r.user = user
        if (truthy(fail[NOFAIL])) r.nofail = true
        if (date === null) r.undated = true
        r.attempts = count(fail[MATCHES])
        add(r as EngineResult)
      }
      if (early || !checkAll) break
    }
  }

  /** Runs `line` (results in `results`) and counts it. `lineNL`: `line`
   *  and a \n (processTerminated), or null. */
  const run = (line: string, lineNL: string | null, now: number): void => {
    resultCount = 0
    stats.lines++
    let text = line
    /** text + '\n' as a slice of lineNL, or null */
    let textNL = lineNL
    let date: number | null = null
    if (detector === null) date = now
    else {
      const kind = detector.find(line, now)
      if (kind !== NONE) {
        if (kind !== EMPTY) {
          const start = detector.matchStart
          const end = detector.matchEnd
          if (start === 0) {
            textNL = lineNL === null ? null : lineNL.slice(end)
            // a one-line filter given textNL searches it, and never reads text
            text = textNL !== null && !multi ? '' : line.slice(end)
          } else {
            text = line.slice(0, start) + line.slice(end)
            textNL = null
          }
        }
        if (kind === DATE) {
          date = detector.time
          lastDate = date
        } else if (kind === EMPTY) date = lastDate !== null && lastDate > now - 60_000 ? lastDate : now
      }
      if (date === null) {
        stats.undated++
        if (lastDate !== null && lastDate > now - 60_000) {
          text = line
          textNL = lineNL
          date = lastDate
        }
      }
    }
    findFailure(text, textNL, date, now)
    let failure: EngineResult | undefined
    let ignored = false
    for (let k = 0; k < resultCount; k++) {
      const r = results[k] as EngineResult
      if (r.ignored === true) ignored = true
      else if (r.nofail !== true) failure ??= r
    }
    if (failure !== undefined) {
      stats.matched++
      const n = stats.perRegex[failure.regexIndex]
      if (n !== undefined) stats.perRegex[failure.regexIndex] = n + 1
    } else if (ignored) stats.ignored++
    else stats.missed++
  }

  const firstResult = (): EngineResult | null => {
    let first: EngineResult | null = null
    for (let k = 0; k < resultCount; k++) {
      const r = results[k] as EngineResult
      if (r.ignored !== true && r.nofail !== true) return r
      first ??= r
    }
    return first
  }

  return {
    processAll(line, now) {
      run(line, null, now)
      return results.slice(0, resultCount)
    },
    process(line, now) {
      run(line, null, now)
      return firstResult()
    },
    processTerminated(lineNL, now) {
      if (lineNL.charCodeAt(lineNL.length - 1) !== 10) throw new TypeError('processTerminated: the line does not end with \\n')
      run(lineNL.slice(0, -1), lineNL, now)
      return firstResult()
    },
    stats,
  }
}

/** The project's LineFilter port over a compiled filter: a match only for a
 *  dated failure whose id is a valid IP address (not nofail, not ignored). */
export function asLineFilter(f: Fail2banFilter, name: string): LineFilter {
  return {
    name,
    match(line: string, now: number): FilterMatch | null {
      let r: EngineResult | null
      try {
        r = f.process(line, now)
      } catch {
        return null
      }
      if (r === null || r.ignored === true || r.nofail === true || r.undated === true || r.ip === null || !Number.isFinite(r.time)) return null
      return r.user === undefined || r.user === '' ? { ip: r.ip, at: r.time } : { ip: r.ip, at: r.time, user: truncateUser(r.user) }
    },
  }
}
