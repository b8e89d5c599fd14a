// The variant prefilter (required-literals.ts): the literals each translated
// variant requires, and the proof obligation that a variant's match always
// contains them (checked against the translated RegExps on generated texts).
// Our own fixtures.
import t from 'tap'
import fc from 'fast-check'
import { translatePythonRegex } from '../../services/watcher/fail2ban/python-regex.js'
import { expandTags } from '../../services/watcher/fail2ban/tags.js'

const FAILED = '^Failed (?:<F-NOFAIL>publickey</F-NOFAIL>|\\S+) for (?P<cond_inv>invalid user )?<F-USER>(?P<cond_user>\\S+)|(?(cond_inv)(?:(?! from ).)*?|[^:]+)</F-USER> from <HOST>(?: ssh\\d*)?(?(cond_user): |(?:(?:(?! from ).)*)$)'
const required = (p: string): readonly (readonly string[])[] => translatePythonRegex(expandTags(p)).required

t.test('given conditionals, then each variant requires the literals of its branches', async (t) => {
  t.same(required(FAILED), [
    ['Failed ', ' for invalid user ', ' from ', ': '],
    ['Failed ', ' for invalid user ', ' from '],
    ['Failed ', ' for ', ' from ', ': '],
    ['Failed ', ' for ', ' from '],
  ])
})

t.test('given what need not match as written, then no literal from it', async (t) => {
  t.same(required('(?i)^abc def'), [[]], 'case-insensitive')
  t.same(required('^ab(?i:cd)ef'), [['ab', 'ef']], 'scoped case-insensitive')
  t.same(required('^a(?:x|y)?b(c|d)e'), [['a', 'b', 'e']], 'optional and alternatives')
  t.same(required('^a(?=zz)b\\bc[d]e{2}(fg){2,}'), [['abc', 'ee', 'fg']], 'zero-width joins, class breaks, repeats')
})

t.test('property: a variant that matches contains its literals', async (t) => {
  const patterns = [FAILED, '^a(?P<x>b)?c(?(x)de|f)g', '^(?:(?P<y>x)|z)y(?(y)Q|R)'].map((p) => expandTags(p))
  const alphabet = fc.constantFrom(...'Failed for invalid user from 1.2.3.4 ssh2: QRabcdefgxyz\n'.split(''))
  for (const p of patterns) {
    const tr = translatePythonRegex(p)
    fc.assert(fc.property(fc.array(alphabet, { maxLength: 60 }), (chars) => {
      const text = `${chars.join('')}\n`
      return tr.variants.every((re, v) => re.exec(text) === null || (tr.required[v] ?? []).every((l) => text.includes(l)))
    }), { numRuns: 3000 })
  }
  t.pass('every match held every literal of its variant')
})
