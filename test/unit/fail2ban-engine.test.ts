// The fail2ban filter engine on our own small filters: prefregex content,
// ignoreregex, first match wins, multi-line buffer, nofail/mlfid, F-ID,
// journal lines, stats, the LineFilter adapter and the bound on risky regexes.
process.env['TZ'] = 'Europe/Zurich' // before any Date use
import t from 'tap'
import { asLineFilter, compileFilter } from '../../services/watcher/fail2ban/filter-engine.js'
import type { FilterDefinition } from '../../services/watcher/fail2ban/filter-reader.js'

const NOW = Date.UTC(2024, 2, 10, 11, 0, 0)
const AT = new Date(2024, 2, 5, 10, 11, 12).getTime()
const D = '2024-03-05 10:11:12'
const def = (o: Partial<FilterDefinition>): FilterDefinition =>
  ({ failregex: [], ignoreregex: [], prefregex: null, datepattern: null, maxlines: 1, journalmatch: null, options: {}, ...o })

t.test('prefregex: the failregex sees <F-CONTENT> only; other lines miss', async (t) => {
  const f = compileFilter(def({
    prefregex: String.raw`^\s*\S+ myd\[\d+\]: <F-CONTENT>.+</F-CONTENT>$`,
    failregex: [String.raw`^\s*bad login for <F-USER>\S+</F-USER> from <HOST>$`],
  }))
  const r = f.process(`${D} box myd[7]: bad login for bob from 192.0.2.7`, NOW)
  t.match(r, { host: '192.0.2.7', ip: '192.0.2.7', user: 'bob', time: AT, regexIndex: 0 })
  t.equal(f.process(`${D} box other[7]: bad login for bob from 192.0.2.7`, NOW), null)
  t.match(f.stats, { lines: 2, matched: 1, missed: 1, perRegex: [1] })
  t.same([...f.stats.dateTemplates.values()], [2])
})

t.test('ignoreregex, first match wins, F-ID', async (t) => {
  const f = compileFilter(def({
    failregex: [String.raw`^\s*denied <HOST>`, String.raw`^\s*denied <HOST> again$`, String.raw`^\s*token <F-ID>\w+</F-ID> rejected$`],
    ignoreregex: [String.raw`^\s*denied 192\.0\.2\.99\b`],
  }))
  t.match(f.process(`${D} denied 192.0.2.1 again`, NOW), { regexIndex: 0, host: '192.0.2.1' })
  t.match(f.process(`${D} denied 192.0.2.99 again`, NOW), { ignored: true })
  const id = f.process(`${D} token abc rejected`, NOW)
  t.match(id, { host: 'abc', ip: null, regexIndex: 2 })
  t.match(f.stats, { matched: 2, ignored: 1 })
  const lf = asLineFilter(f, 'x')
  t.equal(lf.match(`${D} token abc rejected`, NOW), null, 'the port wants an address')
  t.equal(lf.match(`${D} denied 192.0.2.99`, NOW), null, 'ignored')
  t.same(lf.match(`${D} denied 2001:DB8::1`, NOW), { ip: '2001:db8::1', at: AT })
})

t.test('mlfid: a nofail line gives the host, a later line of the same connection the failure', async (t) => {
  const f = compileFilter(def({
    prefregex: String.raw`^\s*<F-MLFID>myd\[\d+\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$`,
    failregex: [String.raw`^\s*<F-NOFAIL>connect</F-NOFAIL> from <HOST>$`, String.raw`^\s*<F-MLFFORGET>auth failed</F-MLFFORGET>$`],
  }))
  t.match(f.process(`${D} myd[1]: connect from 192.0.2.5`, NOW), { nofail: true, host: '192.0.2.5' })
  t.equal(f.process(`${D} myd[2]: auth failed`, NOW), null, 'unknown connection: pending, no failure')
  const r = f.process(`${D} myd[1]: auth failed`, NOW)
  t.match(r, { host: '192.0.2.5', regexIndex: 1 })
  t.notOk(r?.nofail)
  t.equal(f.process(`${D} myd[1]: auth failed`, NOW), null, 'forgotten after the failure')
  t.equal(asLineFilter(compileFilter(def({ failregex: [String.raw`^\s*<F-NOFAIL>ok</F-NOFAIL> <HOST>$`] })), 'y').match(`${D} ok 192.0.2.1`, NOW), null)
})

t.test('multi-line buffer with <SKIPLINES>: the match consumes its lines', async (t) => {
  const f = compileFilter(def({ maxlines: 3, failregex: [String.raw`^\s*login from <HOST><SKIPLINES>\s*denied$`] }))
  t.equal(f.process(`${D} login from 192.0.2.3`, NOW), null)
  t.equal(f.process(`${D} noise`, NOW), null)
  t.match(f.process(`${D} denied`, NOW), { host: '192.0.2.3' })
  t.equal(f.process(`${D} denied`, NOW), null, 'the login line left the buffer')
  const g = compileFilter(def({ maxlines: 2, failregex: [String.raw`^\s*login from <HOST>\n\s*denied$`] }))
  g.process(`${D} login from 192.0.2.4`, NOW)
  g.process(`${D} noise`, NOW)
  t.equal(g.process(`${D} denied`, NOW), null, 'older than maxlines')
})

t.test('journal lines take now; undated lines are flagged and not passed on', async (t) => {
  const j = compileFilter(def({ failregex: [String.raw`^\s*bad <HOST>$`], options: { logtype: 'journal' } }))
  t.match(j.process('bad 192.0.2.8', NOW), { time: NOW, host: '192.0.2.8' })
  const f = compileFilter(def({ failregex: [String.raw`^\s*bad <HOST>$`] }))
  t.match(f.process('bad 192.0.2.8', NOW), { undated: true })
  t.equal(asLineFilter(f, 'z').match('bad 192.0.2.8', NOW), null)
  t.equal(f.stats.undated, 2)
})

t.test('usedns=no: <HOST> takes addresses only; a DNS name is a raw host', async (t) => {
  const re = [String.raw`^\s*bad <HOST>$`]
  t.match(compileFilter(def({ failregex: re })).process(`${D} bad evil.example`, NOW), { host: 'evil.example', ip: null })
  t.equal(compileFilter(def({ failregex: re }), { useDns: 'no' }).process(`${D} bad evil.example`, NOW), null)
})

t.test('a regex with nested unbounded quantifiers is not run on long lines', async (t) => {
  const f = compileFilter(def({ failregex: [String.raw`^\s*(?:\w+ )+from <HOST>$`] }), { maxRiskyLength: 100 })
  t.match(f.process(`${D} a b from 192.0.2.9`, NOW), { host: '192.0.2.9' })
  t.equal(f.process(`${D} ${'a '.repeat(100)}from 192.0.2.9`, NOW), null)
  t.equal(f.stats.riskySkipped, 1)
})

t.test('a failregex without a failure id is refused', async (t) => {
  t.throws(() => compileFilter(def({ failregex: ['^no id here$'] })), { code: 'BANLEDGER_REGEX_UNSUPPORTED' })
})
