import t from 'tap'
import { translatePythonRegex } from '../../services/watcher/fail2ban/python-regex.js'

const groups = (pattern: string, text: string, multiline = false): Record<string, string | undefined> | null => {
  const m = translatePythonRegex(pattern, { multiline }).exec(text)
  return m === null ? null : { ...m.groups, $0: m[0] }
}
const matches = (pattern: string, text: string, multiline = false): boolean => translatePythonRegex(pattern, { multiline }).exec(text) !== null

t.test('given named groups and backreferences, then they keep names and numbers', async (t) => {
  t.same(groups('(?P<a>x+)-(?P=a)', 'xx-xx'), { a: 'xx', $0: 'xx-xx' })
  t.notOk(matches('^(?P<a>x+)-(?P=a)$', 'xx-x'))
  t.ok(matches('^(a)(b)\\2\\1$', 'abba'))
  t.ok(matches('^(?#a comment)ab$', 'ab'))
  t.same([...translatePythonRegex('(?P<a>x)(y)(?P<b>z)').groupIndex], [['a', 1], ['b', 3]], 'named groups are numbered captures')
  t.throws(() => translatePythonRegex('(?P<a>x)|(?P<a>y)'), { code: 'BANLEDGER_REGEX_UNSUPPORTED', message: /redefinition of group name a/ })
})

t.test('given flags, then leading flags become JS flags and scoped (?i:) is emulated', async (t) => {
  t.ok(matches('(?i)^hello$', 'HeLLo'))
  t.equal(translatePythonRegex('(?i)^a').variants[0]?.flags.includes('i'), true)
  t.ok(matches('^(?i:user) X$', 'USER X'))
  t.notOk(matches('^(?i:user) X$', 'USER x'), 'case-insensitivity stays in its group')
  t.ok(matches('^(?i:[a-c]+)$', 'aBC'))
  t.ok(matches('^(?:(?i)abc)d$', 'ABCd'), 'fail2ban turns ((?i)…) into (?i:…)')
  t.ok(matches('(?s)^a.b$', 'a\nb'))
  t.notOk(matches('^a.b$', 'a\nb'), "Python's dot does not match a newline")
  t.ok(matches('^a.b$', 'a\rb'), "Python's dot matches a carriage return")
  t.throws(() => translatePythonRegex('a(?i)b'), { code: 'BANLEDGER_REGEX_UNSUPPORTED', message: /global flags not at the start.*"a\(\?i\)b"/ })
})

t.test('given anchors, then Python semantics hold', async (t) => {
  t.ok(matches('^ab$', 'ab\n'), '$ matches before a final newline')
  t.notOk(matches('^ab\\Z', 'ab\n'), '\\Z does not')
  t.ok(matches('\\Aab\\Z', 'ab'))
  t.ok(matches('^b$', 'a\nb\nc\n', true), 'multiline ^ and $ at newlines')
  t.notOk(matches('^b$', 'a\rb\rc', true), 'only \\n separates lines')
})

t.test('given character escapes and classes, then they translate', async (t) => {
  t.ok(matches('^\\d+$', '١٢٣'), 'Unicode digits, as Python str patterns')
  t.ok(matches('^\\w+$', 'Zürich_1'))
  t.notOk(matches('^x\\bZürich', 'xZürich'), 'no boundary between two letters')
  t.ok(matches('\\bZürich\\b', 'in Zürich.'))
  t.ok(matches('^[\\w\\-.]+$', 'a-b.c'))
  t.ok(matches('^[]a]+$', ']a]'), '] first in a class is literal')
  t.ok(matches('^\\:\\<\\%\\ $', ':<% '), "Python's identity escapes")
  t.ok(matches('^a{2}b{,2}c{1,}$', 'aabbc'))
  t.ok(matches('^a{x}$', 'a{x}'), 'a brace that is no quantifier is literal')
  t.ok(matches('^\\x41\\101\\t$', 'AA\t'))
  t.throws(() => translatePythonRegex('\\q'), { code: 'BANLEDGER_REGEX_UNSUPPORTED', message: /bad escape/ })
  t.throws(() => translatePythonRegex('(?>a)'), { code: 'BANLEDGER_REGEX_UNSUPPORTED' })
  t.throws(() => translatePythonRegex('a**'), { code: 'BANLEDGER_REGEX_UNSUPPORTED', message: /nothing to repeat/ })
  t.throws(() => translatePythonRegex('(a'), { code: 'BANLEDGER_REGEX_UNSUPPORTED', message: /missing '\)'/ })
})

t.test('given conditional groups, then variants emulate them', async (t) => {
  const p = '^(?P<q>")?\\w+(?(q)"|!)$'
  t.ok(matches(p, '"abc"'))
  t.ok(matches(p, 'abc!'))
  t.notOk(matches(p, '"abc!'))
  t.notOk(matches(p, 'abc"'))
  t.equal(translatePythonRegex(p).variants.length, 2)
  const alt = '^(?:(?P<n>\\d+)|[a-z]+) (?(n)num|word)$'
  t.ok(matches(alt, '12 num'))
  t.ok(matches(alt, 'ab word'))
  t.notOk(matches(alt, '12 word'))
  t.same(groups('^(a)?b(?(1)c|d)$', 'abc'), { $0: 'abc' })
  t.ok(matches('^(a)?b(?(1)c|d)$', 'bd'))
  const two = '^(?P<x>x)?(?P<y>y)?(?(x)1|2)(?(y)3|4)(?P<z>z)$'
  t.same(groups(two, 'xy13z'), { x: 'x', y: 'y', z: 'z', $0: 'xy13z' })
  t.same(groups(two, '24z'), { x: undefined, y: undefined, z: 'z', $0: '24z' })
  t.throws(() => translatePythonRegex('(?(nope)a|b)'), { code: 'BANLEDGER_REGEX_UNSUPPORTED', message: /unknown group/ })
})

t.test('given nested unbounded quantifiers, then they are reported as risks', async (t) => {
  t.same(translatePythonRegex('^(?:a+)*$').risks, ['unbounded quantifier inside a repeated group'])
  t.same(translatePythonRegex('^a+b*$').risks, [])
})
