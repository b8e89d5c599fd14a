// The failregex prefilter (lead-chars.ts): which first characters can start
// a match of an anchored regex, and the proof obligation that a character
// outside the table never starts a match (checked against the translated
// RegExp on generated texts). Also the date detector's match-position fast
// path (no `d` flag unless the date text occurs twice). Our own fixtures.
process.env['TZ'] = 'Europe/Zurich' // before any Date use
import t from 'tap'
import fc from 'fast-check'
import { leadChars } from '../../services/watcher/fail2ban/lead-chars.js'
import { translatePythonRegex } from '../../services/watcher/fail2ban/python-regex.js'
import { expandTags } from '../../services/watcher/fail2ban/tags.js'
import { DateDetector } from '../../services/watcher/fail2ban/date-detector.js'

const allowed = (pattern: string, opts: { multiline?: boolean } = {}): string | null => {
  const lead = leadChars(pattern, opts)
  if (lead === null) return null
  let s = ''
  for (let c = 0; c < 128; c++) if (lead[c] === 1) s += String.fromCharCode(c)
  return s
}

t.test('given anchored literal starts, then only their first characters pass', async (t) => {
  t.equal(allowed('^Failed (?:password|publickey) for'), 'F')
  t.equal(allowed('^[iI](?:llegal|nvalid) user'), 'Ii')
  t.equal(allowed('^(?:Connection (?:closed|reset)|Disconnected) by'), 'CD')
  t.equal(allowed('^(?P<x>a)?b'), 'ab', 'an optional start adds what follows')
  t.equal(allowed('^(?=x)y|^z'), 'yz', 'lookarounds are ignored (they only remove matches)')
  t.equal(allowed('^(?(1)a|b)c'), 'ab', 'conditionals count both branches')
  t.equal(allowed('(?i)^ab'), 'Aa', 'case-insensitive ASCII letters: both cases')
  t.equal(allowed('^[0-3x]'), '0123x')
})

t.test('given anything that can start anywhere or with any character, then no prefilter', async (t) => {
  t.equal(allowed('Failed'), null, 'not anchored')
  t.equal(allowed('^a|b'), null, 'one alternative not anchored')
  t.equal(allowed('^\\S+ x'), null)
  t.equal(allowed('^.x'), null)
  t.equal(allowed('^[^a]'), null)
  t.equal(allowed('^x?'), null, 'can match empty text')
  t.equal(allowed('^(a)\\1?b'), 'a')
  t.equal(allowed('^\\1'), null, 'backreference')
  t.equal(allowed('^a', { multiline: true }), null, 'MULTILINE: ^ at every line')
  t.equal(allowed('(?m)^a'), null)
  t.equal(allowed('(?i)^k'), 'Kk', 'both ASCII cases; the Kelvin sign (>= 128) always passes')
  t.equal(allowed('(?i)^\u212a'), null, 'a non-ASCII letter under (?i) may fold to ASCII')
})

t.test('given a non-ASCII first character, then the table never blocks it', async (t) => {
  const lead = leadChars('^Failed')
  t.ok(lead !== null && lead.length === 128, 'the table covers ASCII only; >= 128 always passes')
})

t.test('property: a character the table rejects never starts a match', async (t) => {
  const patterns = [
    '^Failed (?:<F-NOFAIL>publickey</F-NOFAIL>|\\S+) for (?P<cond_inv>invalid user )?<F-USER>(?P<cond_user>\\S+)|(?(cond_inv)(?:(?! from ).)*?|[^:]+)</F-USER> from <HOST>',
    '^[iI](?:llegal|nvalid) user <F-USER>.*?</F-USER> from <HOST>',
    '^<F-NOFAIL><F-MLFFORGET>(Connection (?:closed|reset)|Disconnected)</F-MLFFORGET></F-NOFAIL> (?:by|from)',
    '(?i)^user (?P<u>\\w+)?x',
    '^(?:a|B)?[c-e]*(?=f)g',
  ].map((p) => expandTags(p))
  const alphabet = fc.constantFrom(...'FIiCDaBcdefgxXuU :\n\u212a1.'.split(''))
  for (const p of patterns) {
    const lead = leadChars(p)
    const tr = translatePythonRegex(p)
    fc.assert(fc.property(fc.array(alphabet, { maxLength: 12 }), (chars) => {
      const text = `${chars.join('')}\n`
      const c = text.charCodeAt(0)
      if (lead !== null && c < 128 && lead[c] === 0) return tr.exec(text) === null
      return true
    }), { numRuns: 2000 })
  }
  t.pass('no rejected first character ever matched')
})

t.test('date detector: the date position without match indices, and with them when the text repeats', async (t) => {
  const d = new DateDetector(String.raw`^\d\d:\d\d:\d\d (%H:%M:%S)`)
  const line = '10:11:12 10:11:12 rest'
  const m = d.detect(line, Date.UTC(2024, 2, 10, 11))
  t.equal(m?.matchStart, 9, 'the repeated text: the group\'s own position')
  t.equal(m?.matchEnd, 17)
  const u = new DateDetector(String.raw`^\d\d:\d\d:\d\d (%H:%M:%S)`).detect('01:02:03 10:11:12 rest', Date.UTC(2024, 2, 10, 11))
  t.equal(u?.matchStart, 9, 'unique text: found by position')
  t.equal(u?.time, new Date(2024, 2, 10, 10, 11, 12).getTime())
  const s = new DateDetector('{^LN-BEG}').detect('Mar  5 10:11:12 host Mar  5 10:11:12 x', Date.UTC(2024, 2, 10, 11))
  t.equal(s?.matchStart, 0)
  t.equal(s?.matchEnd, 15)
})
