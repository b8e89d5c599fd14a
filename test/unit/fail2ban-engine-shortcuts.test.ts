// The engine's shortcuts that must not change a result: the connection
// cache against fail2ban's Cache (a plain ordered Map, as the engine had
// it), the content group found at the match's end (group-at-end.ts), and
// filter-test's `addresses: false`. Our own fixtures.
process.env['TZ'] = 'UTC' // before any Date use
import t from 'tap'
import fc from 'fast-check'
import { compileFilter, Literals, MlfidCache } from '../../services/watcher/fail2ban/filter-engine.js'
import type { FilterDefinition } from '../../services/watcher/fail2ban/filter-reader.js'
import { groupEndsMatch } from '../../services/watcher/fail2ban/group-at-end.js'

/** fail2ban's Utils.Cache (maxCount 100, maxTime 300 s) over an ordered Map. */
class ReferenceCache {
  private readonly map = new Map<string, { v: unknown[]; until: number }>()
  get(k: string, now: number): unknown[] | undefined {
    const e = this.map.get(k)
    if (e === undefined) return undefined
    if (e.until > now) return e.v
    this.map.delete(k)
    return undefined
  }
  set(k: string, v: unknown[], now: number): void {
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

t.test('given random gets, sets and unsets over a few hundred ids, when time moves on, then the cache answers as fail2ban\'s', async (t) => {
  const op = fc.record({ kind: fc.constantFrom('get', 'set', 'set', 'unset'), id: fc.integer({ min: 0, max: 250 }), dt: fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 500 }), weight: 400 }, // > 100 live ids: evictions
    { arbitrary: fc.integer({ min: 0, max: 200_000 }), weight: 1 }, // expiries
  ) })
  let full = 0
  fc.assert(fc.property(fc.array(op, { minLength: 1000, maxLength: 3000 }), (ops) => {
    const ours = new MlfidCache()
    const ref = new ReferenceCache()
    let now = 0
    for (const o of ops) {
      now += o.dt
      const k = `id${o.id}`
      if (o.kind === 'get') {
        if (ours.get(k, now) !== ref.get(k, now)) return false
      } else if (o.kind === 'set') {
        if ((ref as unknown as { map: Map<string, unknown> }).map.size >= 100) full++
        const v = [o.id, now]
        ours.set(k, v, now)
        ref.set(k, v, now)
      } else {
        ours.unset(k)
        ref.unset(k)
      }
    }
    for (let id = 0; id <= 250; id++) if (ours.get(`id${id}`, now) !== ref.get(`id${id}`, now)) return false
    return true
  }), { numRuns: 200 })
  t.ok(full > 1000, `the cache was full on ${full} sets`)
})

t.test('given each set just after a get of its key (the engine\'s order), when ids come back, expire and leave, then the cache answers as fail2ban\'s', async () => {
  const op = fc.record({ kind: fc.constantFrom('getset', 'getset', 'get', 'unset'), id: fc.integer({ min: 0, max: 150 }), dt: fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 500 }), weight: 400 },
    { arbitrary: fc.integer({ min: 0, max: 400_000 }), weight: 1 },
  ) })
  fc.assert(fc.property(fc.array(op, { minLength: 500, maxLength: 2000 }), (ops) => {
    const ours = new MlfidCache()
    const ref = new ReferenceCache()
    let now = 0
    for (const o of ops) {
      now += o.dt
      // a fresh string each time, as the engine's groups are
      const k = `id${o.id} `.trim()
      if (o.kind === 'unset') {
        ours.unset(k)
        ref.unset(k)
        continue
      }
      if (ours.get(k, now) !== ref.get(k, now)) return false
      if (o.kind === 'getset') {
        const v = [o.id, now]
        ours.set(k, v, now)
        ref.set(k, v, now)
      }
    }
    for (let id = 0; id <= 150; id++) if (ours.get(`id${id}`, now) !== ref.get(`id${id}`, now)) return false
    return true
  }), { numRuns: 200 })
})

t.test('given texts and literals, when Literals.in() is asked in any order, then it answers as includes()', async (t) => {
  const lits = ['a', 'ab', ': ', ' for invalid user ', '']
  fc.assert(fc.property(fc.array(fc.record({ text: fc.constantFrom('xab', 'Failed password for root', 'Failed x for invalid user y: z', '', 'a: b', 'xab'), lit: fc.nat(lits.length - 1) }), { maxLength: 200 }), (asks) => {
    const memo = new Literals()
    const ids = lits.map((l) => memo.id(l))
    for (const a of asks) {
      // a copy of the text: same contents, another string
      const text = a.text.split('').join('')
      if (memo.in(text, ids[a.lit] as number) !== text.includes(lits[a.lit] as string)) return false
    }
    return true
  }))
  const memo = new Literals()
  const a = memo.id('x')
  t.equal(memo.in('x', a), true)
  const b = memo.id('y') // an id added later starts unknown
  t.equal(memo.in('x', b), false)
  t.equal(memo.in('xy', b), true)
  t.equal(memo.id('x'), a)
})

t.test('given a key set and unset over and over, then the cache stays small', async (t) => {
  const c = new MlfidCache()
  for (let i = 0; i < 100_000; i++) {
    c.set('a', [i], i)
    c.unset('a')
  }
  t.equal(c.get('a', 0), undefined)
  const queue = (c as unknown as { queue: unknown[] }).queue
  t.ok(queue.length <= 400, `queue of ${queue.length}`)
})

t.test('given prefregexes and date templates, then a group ends the match only when nothing but zero-width nodes follows it', async (t) => {
  t.ok(groupEndsMatch(String.raw`^(?P<mlfid>\S+ )(?:error: )?(?P<content>.+)$`, 'content'))
  t.ok(groupEndsMatch(String.raw`(?P<content>.+)\Z`, 'content'))
  t.ok(groupEndsMatch(String.raw`^x(?P<content>.+)`, 'content'), 'nothing after it')
  t.notOk(groupEndsMatch(String.raw`^(?P<content>.+) end$`, 'content'))
  t.ok(groupEndsMatch(String.raw`^(?P<content>.+)(?=\n)\b`, 'content'), 'a lookahead and \\b')
  t.ok(groupEndsMatch(String.raw`^(?:\W{0,2})?((?P<b>\w+) (?P<d>\d+))(?=\b|\W|$)`, 1), 'a date template: group 1')
  t.notOk(groupEndsMatch(String.raw`^((?P<b>\w+) (?P<d>\d+))(?=\b|\W|$)`, 2), 'group 2 is inside group 1')
  t.notOk(groupEndsMatch(String.raw`^(\d+)(?:\.\d+)?`, 1), 'an optional part after it')
  t.notOk(groupEndsMatch(String.raw`^(?:(?P<content>.+))$`, 'content'), 'inside another group')
  t.notOk(groupEndsMatch(String.raw`^a(?P<content>.+)$|^b$`, 'content'), 'two branches')
  t.notOk(groupEndsMatch(String.raw`^(?P<content>.)+$`, 'content'), 'repeated')
  t.notOk(groupEndsMatch(String.raw`^(?P<other>.+)$`, 'content'), 'no such group')
})

const def = (over: Partial<FilterDefinition>): FilterDefinition => ({
  failregex: [], ignoreregex: [], prefregex: null, datepattern: null, maxlines: 1, journalmatch: null, options: {}, ...over,
})
const D = 'Nov 20 10:00:00'
const NOW = Date.UTC(2026, 10, 20, 12)

t.test('given a prefregex whose content ends the match, when lines run, then the failregexes see the content as before', async (t) => {
  const d = def({
    prefregex: String.raw`^\s*<F-MLFID>\S+ myd\[\d+\]:</F-MLFID> (?:error: )?<F-CONTENT>.+</F-CONTENT>$`,
    failregex: [String.raw`^bad login for <F-USER>\S+</F-USER> from <HOST>\s*$`, String.raw`^<F-USER>\S+</F-USER> from <HOST> refused$`],
  })
  const f = compileFilter(d)
  t.match(f.process(`${D} box myd[7]: bad login for bob from 192.0.2.7`, NOW), { host: '192.0.2.7', user: 'bob', regexIndex: 0 })
  t.match(f.process(`${D} box myd[8]: error: bad login for eve from 192.0.2.8   `, NOW), { host: '192.0.2.8', user: 'eve', regexIndex: 0 })
  t.match(f.process(`${D} box myd[9]: al from 192.0.2.9 refused`, NOW), { host: '192.0.2.9', user: 'al', regexIndex: 1 })
  t.equal(f.process(`${D} box myd[9]: nothing here`, NOW), null)
})

t.test('given addresses: false, then results carry the host and no ip', async (t) => {
  const d = def({ failregex: [String.raw`^\s*denied <HOST>$`] })
  t.match(compileFilter(d).process(`${D} denied 2001:DB8::1`, NOW), { host: '2001:DB8::1', ip: '2001:db8::1' })
  t.match(compileFilter(d, { addresses: false }).process(`${D} denied 2001:DB8::1`, NOW), { host: '2001:DB8::1', ip: null })
})

t.test('given lines with a date first, in the middle, none or an invalid one, when run terminated by \\n, then the results are those of process()', async (t) => {
  const d = def({
    prefregex: String.raw`^\s*<F-MLFID>\S+ myd\[\d+\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$`,
    failregex: [String.raw`^<F-NOFAIL>connect</F-NOFAIL> from <HOST>\s*$`, String.raw`^bad login for <F-USER>\S*</F-USER>(?: from <HOST>)?\s*$`],
  })
  const lines = [
    `${D} box myd[1]: connect from 192.0.2.1`,
    `${D} box myd[1]: bad login for bob`,
    `box myd[2]: bad login for al from 192.0.2.2 `,
    `[x] ${D} box myd[3]: bad login for eve from 192.0.2.3`,
    `Feb 30 10:00:00 box myd[4]: bad login for eve from 192.0.2.4`,
    `${D} box myd[5]: bad login for  from 192.0.2.5\t`,
    `${D} box myd[6]: nothing`,
    '',
  ]
  const a = compileFilter(d)
  const b = compileFilter(d)
  for (const line of lines) t.same(b.processTerminated(`${line}\n`, NOW), a.process(line, NOW), JSON.stringify(line))
  t.same(b.stats, a.stats)
  t.throws(() => b.processTerminated('no newline', NOW), TypeError)
})

t.test('given failregexes with different first characters, when lines run, then the first regex that matches wins, as when each runs alone', async (t) => {
  const failregex = [
    String.raw`^Failed \S+ for <F-USER>\S+</F-USER> from <HOST>`,
    String.raw`^\s*fail(?:ed)? <HOST>`,
    String.raw`^(?:Failed|Invalid) user <F-USER>\S+</F-USER> <HOST>`,
    String.raw`^[iI]nvalid user <F-USER>\S+</F-USER> from <HOST>`,
    String.raw`<HOST> rejected$`,
    String.raw`^Ä <HOST>`,
  ]
  const all = compileFilter(def({ failregex }))
  const alone = failregex.map((r) => compileFilter(def({ failregex: [r] })))
  const lines = [
    'Failed password for bob from 192.0.2.1', 'Failed user al 192.0.2.2', 'failed 192.0.2.3', ' fail 192.0.2.4',
    'Invalid user x from 192.0.2.5', 'invalid user y from 192.0.2.6', 'Invalid user z 192.0.2.7', '192.0.2.8 rejected',
    'Ä 192.0.2.9', 'x 192.0.2.10 rejected', '', ' ', 'nothing',
  ]
  for (const line of lines) {
    const first = alone.findIndex((f) => f.process(`${D} ${line}`, NOW) !== null)
    const r = all.process(`${D} ${line}`, NOW)
    t.equal(r?.regexIndex ?? -1, first, JSON.stringify(line))
  }
})
