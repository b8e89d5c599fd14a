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
import { DateDetector } from './date-detector.js'
import { Fail2banError } from './errors.js'
import { translatePythonRegex, type TranslatedRegex } from './python-regex.js'
import { leadChars } from './lead-chars.js'
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
}

type Tuple = readonly [string, string, string]
/** An EngineResult under construction (keys added in EngineResult's order). */
type Building = { -readonly [K in keyof EngineResult]?: EngineResult[K] } & { time: number; host: string; ip: string | null; regexIndex: number }
type Groups = Record<string, unknown>
const join = (lines: readonly Tuple[]): string => {
  if (lines.length === 1) {
    const t = lines[0] as Tuple
    return `${t[0]}${t[2]}\n`
  }
  return `${lines.map((t) => t[0] + t[2]).join('\n')}\n`
}
/** `{ ...a, ...b }` for plain objects, without the spread's slow paths. */
const merged = (a: Groups, b: Groups): Groups => {
  const o: Groups = {}
  for (const k in a) o[k] = a[k]
  for (const k in b) o[k] = b[k]
  return o
}
/** `delete o[k]` for the engine's group objects: every read of them is by
 *  value (undefined = absent), and deleting would turn them into slow
 *  dictionary-mode objects. */
const unset = (o: Groups, k: string): void => {
  if (o[k] !== undefined) o[k] = undefined
}
const truthy = (v: unknown): boolean => v !== undefined && v !== null && v !== '' && v !== 0 && v !== false
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
// eslint-disable-next-line no-control-regex -- Python's line breaks include these controls
const PY_LINES = new RegExp('\\r\\n|[\\n\\r\\v\\f\\x1c-\\x1e\\x85\\u2028\\u2029]') // Python's str.splitlines

class Rx {
  readonly tr: TranslatedRegex
  readonly risky: boolean
  /** First characters that can start a match (lead-chars.ts), or null. */
  private readonly lead: Uint8Array | null
  private readonly names: readonly string[]
  private readonly alt: [string, string][]
  matched: Tuple[] = []
  unmatched: Tuple[] = []
  constructor(readonly source: string, readonly maxRisky: number, opts: { useDns: string; multiline: boolean }) {
    const expanded = expandTags(source, { useDns: opts.useDns })
    this.tr = translatePythonRegex(expanded, { multiline: opts.multiline })
    this.risky = this.tr.risks.length > 0
    this.lead = leadChars(expanded, { multiline: opts.multiline })
    this.names = this.tr.groupNames
    this.alt = this.tr.groupNames.flatMap((k): [string, string][] => {
      const m = /^alt_(.+?)(?:_\d+)?$/.exec(k)
      return m === null ? [] : [[k, m[1] ?? '']]
    }).sort()
  }

  /** Python's Regex.search: the groups, and which buffer lines the match spans. */
  search(buf: string, org: readonly Tuple[], stats: EngineStats): Groups | null {
    if (this.risky && buf.length > this.maxRisky) {
      stats.riskySkipped++
      return null
    }
    const lead = this.lead
    if (lead !== null) {
      const c = buf.charCodeAt(0)
      if (c < 128 && lead[c] === 0) return null
    }
    const m = this.tr.exec(buf)
    if (m === null) return null
    if (org.length <= 1) {
      this.matched = [...org]
      this.unmatched = []
    } else {
      const start = m.index
      const end = m.index + m[0].length
      const lineStart = buf.lastIndexOf('\n', start) + 1
      const nl = buf.indexOf('\n', Math.max(0, end - 1))
      const lineEnd = nl < 0 ? buf.length : nl + 1
      const count = (to: number): number => buf.slice(0, to).split('\n').length - 1
      const c1 = count(lineStart)
      const c2 = count(lineEnd)
      this.matched = org.slice(c1, c2)
      this.unmatched = org.slice(0, c1)
      let skipped = ''
      for (let n = 0; m.groups?.[`skiplines${n}`] !== undefined || this.tr.groupNames.includes(`skiplines${n}`); n++) skipped += m.groups?.[`skiplines${n}`] ?? ''
      const lines = skipped.split(PY_LINES)
      if (lines[lines.length - 1] === '') lines.pop()
      let n = 0
      for (const s of lines) {
        const k = this.matched.slice(n).findIndex((t) => t[0] + t[2] === s)
        if (k < 0) continue
        const [moved] = this.matched.splice(n + k, 1)
        if (moved !== undefined) this.unmatched.push(moved)
        n += k
      }
      this.unmatched.push(...org.slice(c2))
    }
    const g: Groups = {}
    const mg = m.groups
    if (mg !== undefined) for (const k of this.names) g[k] = mg[k]
    for (const [k, n] of this.alt) if (truthy(g[k]) && !truthy(g[n])) g[n] = g[k]
    return g
  }
}

/** A small LRU with a time limit, as fail2ban keeps connection ids (100 entries, 5 minutes). */
class MlfidCache {
  private readonly map = new Map<string, { v: Groups; until: number }>()
  get(k: string, now: number): Groups | undefined {
    const e = this.map.get(k)
    if (e === undefined) return undefined
    if (e.until > now) return e.v
    this.map.delete(k)
    return undefined
  }
  set(k: string, v: Groups, now: number): void {
    if (this.map.size >= 100) {
      for (const [ck, cv] of this.map) {
        this.map.delete(ck)
        if (cv.until > now && this.map.size < 100) break
      }
    }
    this.map.set(k, { v, until: now + 300_000 })
  }
  unset(k: string): void {
    this.map.delete(k)
  }
}

/** Compiles `def`. Throws BANLEDGER_REGEX_UNSUPPORTED / BANLEDGER_FILTER_INVALID. */
export function compileFilter(def: FilterDefinition, opts: CompileOptions = {}): Fail2banFilter {
  const useDns = opts.useDns ?? def.options['usedns'] ?? 'warn'
  const maxRisky = opts.maxRiskyLength ?? 4096
  const multi = def.maxlines > 1
  const checkAll = opts.checkAllRegex === true
  const journal = opts.journal ?? def.options['logtype'] === 'journal'
  const pref = def.prefregex === null ? null : new Rx(def.prefregex, maxRisky, { useDns, multiline: false })
  const fails = def.failregex.map((r) => new Rx(r, maxRisky, { useDns, multiline: multi }))
  const ignores = def.ignoreregex.map((r) => new Rx(r, maxRisky, { useDns, multiline: false }))
  const ids = [...FAILURE_ID_GROUPS, 'mlfid']
  const prefIds = pref?.tr.groupNames.some((g) => ids.includes(g)) === true
  for (const f of fails) {
    if (!prefIds && !f.tr.groupNames.some((g) => ids.includes(g))) {
      throw new Fail2banError('BANLEDGER_REGEX_UNSUPPORTED', `failregex ${JSON.stringify(f.source)}: no failure id (<HOST>, <ADDR>, <F-ID>, <F-MLFID>...)`)
    }
  }
  const detector = journal ? null : new DateDetector(def.datepattern)
  const stats: EngineStats = {
    lines: 0, matched: 0, ignored: 0, missed: 0, perRegex: fails.map(() => 0),
    dateTemplates: detector?.used ?? new Map(), undated: 0, riskySkipped: 0,
  }
  const cache = new MlfidCache()
  let buffer: Tuple[] = []
  let lastDate: number | null = null
  let lastText = ''

  const ignoreLine = (buf0: string, org0: readonly Tuple[], rx: Rx | null): number | null => {
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

  const updateUsers = (fail: Groups, user: unknown): Set<string> | undefined => {
    const users = fail['users'] as Set<string> | undefined
    if (!truthy(user)) return users
    const set = users ?? new Set<string>()
    fail['users'] = set
    set.add(String(user))
    return set
  }

  const matchesOf = (fail: Groups, key = 'matches'): string[] => (Array.isArray(fail[key]) ? (fail[key] as string[]) : [])
  const lines = (rx: Rx): string[] => rx.matched.map((t) => t[0] + t[1] + t[2])

  const mergeFailure = (mlfid: string, fail0: Groups, rx: Rx, now: number): Groups => {
    let fail = fail0
    const cached = cache.get(mlfid, now)
    let users: Set<string> | undefined
    let nf = 0
    if (truthy(fail['mlfgained'])) {
      nf |= 8 | 1
      if (!truthy(fail['nofail'])) fail['nofail'] = fail['mlfgained']
    } else if (truthy(fail['nofail'])) nf |= 1
    const forget = fail['mlfforget']
    unset(fail, 'mlfforget')
    if (truthy(forget)) nf |= 2
    if (cached !== undefined) {
      users = updateUsers(cached, fail['user'])
      if (truthy(cached['nofail'])) nf |= 4
      unset(cached, 'nofail')
      if (truthy(cached['mlfgained'])) nf |= 4
      unset(cached, 'mlfgained')
      if ((nf & 8) !== 0) unset(cached, 'mlfpending')
      if ((nf & 4) === 0 && !truthy(cached['mlfpending'])) unset(cached, 'matches')
      for (const k in fail) {
        const v = fail[k]
        if (v !== undefined && v !== null) cached[k] = v
      }
      fail = cached
      if ((nf & 2) !== 0) cache.unset(mlfid)
    } else if ((nf & 2) === 0) {
      users = updateUsers(fail, fail['user'])
      cache.set(mlfid, fail, now)
    }
    const pending = fail['mlfpending']
    unset(fail, 'mlfpending')
    if (truthy(pending) || (users !== undefined && users.size > 1)) {
      unset(fail, 'nofail')
      unset(fail, 'mlfgained')
      nf &= ~(8 | 1)
    }
    if ((nf & 1) === 0) {
      const m = [...matchesOf(fail, 'nofail-matches'), ...matchesOf(fail)]
      unset(fail, 'nofail-matches')
      if ((nf & 8) === 0) m.push(...lines(rx))
      fail['matches'] = m
    } else if ((nf & 3) === 1) {
      fail['nofail-matches'] = [...matchesOf(fail, 'nofail-matches'), ...lines(rx)]
    }
    return fail
  }

  const findFailure = (tuple: Tuple, date: number | null, now: number): EngineResult[] => {
    const results: EngineResult[] = []
    buffer = multi ? [...buffer, tuple].slice(-def.maxlines) : [tuple]
    const org = buffer
    let buf: string | null = join(org)
    if (ignores.length > 0 && ignores.length < fails.length - 2 && ignoreLine(buf, org, null) !== null) {
      results.push({ time: date ?? now, host: '', ip: null, regexIndex: -1, ignored: true, attempts: 0 })
      return results
    }
    const pre: Groups = {}
    let hasPre = false
    if (pref !== null) {
      const g = pref.search(buf, org, stats)
      if (g === null) return results
      const content = g['content']
      // g without content (as `delete`, but keeps a fast object)
      let n = 0
      for (const k in g) {
        if (k === 'content') continue
        pre[k] = g[k]
        n++
      }
      hasPre = n > 0
      if (truthy(content)) {
        buffer = [['', '', String(content)]]
        buf = null
      }
    }
    for (let index = 0; index < fails.length; index++) {
      const rx = fails[index] as Rx
      buf ??= join(buffer)
      const groups = rx.search(buf, org, stats)
      if (groups === null) continue
      let fail: Groups = groups
      if (ignores.length > 0 && ignoreLine(buf, org, rx) !== null) {
        buf = null
        results.push({ time: date ?? now, host: hostOf(fail) ?? '', ip: null, regexIndex: index, ignored: true, attempts: 0 })
        if (!checkAll) break
        continue
      }
      if (!checkAll || multi) {
        buffer = rx.unmatched
        buf = null
      }
      if (hasPre) fail = merged(pre, fail)
      const mlfid = str(fail['mlfid'])
      let early = false
      if (mlfid !== undefined) {
        fail = mergeFailure(mlfid, fail, rx, now)
        if (truthy(fail['nofail']) && !checkAll) early = true
      } else {
        fail['matches'] = [...matchesOf(fail), ...lines(rx)]
      }
      const host = hostOf(fail) ?? null
      if (host === null && !early) {
        fail['mlfpending'] = 1
        if (!checkAll) return results
        continue
      }
      if (host !== null) {
        const user = str(fail['user'])
        const r: Building = { time: date ?? now, host, ip: canonicalAddress(host), regexIndex: index }
        if (user !== undefined) r.user = user
        if (truthy(fail['nofail'])) r.nofail = true
        if (date === null) r.undated = true
        r.attempts = matchesOf(fail).length
        results.push(r as EngineResult)
      }
      if (early || !checkAll) break
    }
    return results
  }

  const processAll = (line: string, now: number): EngineResult[] => {
    stats.lines++
    let tuple: Tuple
    let date: number | null = null
    if (detector === null) {
      tuple = ['', '', line]
      date = now
    } else {
      const d = detector.detect(line, now)
      if (d === null) tuple = ['', '', line]
      else {
        const text = line.slice(d.matchStart, d.matchEnd)
        tuple = [line.slice(0, d.matchStart), text, line.slice(d.matchEnd)]
        if (d.kind === 'date') {
          date = d.time
          lastText = text
          lastDate = d.time
        } else if (d.kind === 'empty') {
          if (lastDate !== null && lastDate > now - 60_000) {
            tuple = ['', lastText, line]
            date = lastDate
          } else date = now
        }
      }
      if (date === null) {
        stats.undated++
        if (lastDate !== null && lastDate > now - 60_000) {
          tuple = ['', lastText, line]
          date = lastDate
        }
      }
    }
    const results = findFailure(tuple, date, now)
    const failure = results.find((r) => r.ignored !== true && r.nofail !== true)
    if (failure !== undefined) {
      stats.matched++
      const n = stats.perRegex[failure.regexIndex]
      if (n !== undefined) stats.perRegex[failure.regexIndex] = n + 1
    } else if (results.some((r) => r.ignored === true)) stats.ignored++
    else stats.missed++
    return results
  }

  return {
    processAll,
    process(line, now) {
      const all = processAll(line, now)
      return all.find((r) => r.ignored !== true && r.nofail !== true) ?? all[0] ?? null
    },
    stats,
  }
}

/** fail2ban's failure id: <F-ID>, else the address or name. */
function hostOf(fail: Groups): string | undefined {
  return str(fail['fid']) ?? str(fail['ip4']) ?? str(fail['ip6']) ?? str(fail['dns'])
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
