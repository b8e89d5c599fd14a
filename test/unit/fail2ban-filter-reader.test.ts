import t from 'tap'
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { readFilter } from '../../services/watcher/fail2ban/filter-reader.js'

// Hand-written fixtures in fail2ban's format (not fail2ban's own files).
const BASE = `# a shared base
[INCLUDES]
after = base.local

[DEFAULT]
logtype = file
_daemon = \\S*
__pid = (?:\\[\\d+\\])
__lead = <lt_<logtype>/__lead>

[lt_file]
__lead = ^\\S+ <_daemon><__pid>?: ; inline comment
datepattern = {^LN-BEG}

[lt_journal]
__lead = ^<_daemon>:
datepattern = %(lt_file/datepattern)s
`

const DEMO = `[INCLUDES]
before = base.conf

[DEFAULT]
_daemon = demod

[Definition]
; the failures
failregex = %(__lead)s login failed for <F-USER>\\S+</F-USER> from <HOST>$
            %(__lead)s bad token from <HOST>
            <extra-<mode>>
# not part of the value
extra-normal =
extra-strict = %(__lead)s probe from <HOST>
mode = normal
ignoreregex = from 127\\.0\\.0\\.1
percent = 100%% sure
datepattern = <lt_<logtype>/datepattern>
maxlines = 2
journalmatch = _COMM=demod

[Init]
answer = 42
`

t.test('given a filter with includes, interpolation and tags', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'banledger-f2b-reader-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(path.join(dir, 'base.conf'), BASE)
  await writeFile(path.join(dir, 'demo.conf'), DEMO)

  t.test('when read with defaults, then options are resolved like fail2ban', async (t) => {
    const f = await readFilter(dir, 'demo')
    t.same(f.failregex, [
      '^\\S+ demod(?:\\[\\d+\\])?: login failed for <F-USER>\\S+</F-USER> from <HOST>$',
      '^\\S+ demod(?:\\[\\d+\\])?: bad token from <HOST>',
    ])
    t.same(f.ignoreregex, ['from 127\\.0\\.0\\.1'])
    t.equal(f.datepattern, '{^LN-BEG}')
    t.equal(f.maxlines, 2)
    t.equal(f.journalmatch, '_COMM=demod')
    t.equal(f.prefregex, null)
    t.equal(f.options['answer'], '42')
    t.equal(f.options['known/answer'], '42')
  })

  t.test('when the caller gives mode and logtype, then they win over the file', async (t) => {
    const f = await readFilter(dir, 'demo', { mode: 'strict', logtype: 'journal', answer: '7' })
    t.same(f.failregex, [
      '^demod: login failed for <F-USER>\\S+</F-USER> from <HOST>$',
      '^demod: bad token from <HOST>',
      '^demod: probe from <HOST>',
    ])
    t.equal(f.datepattern, '{^LN-BEG}')
    t.equal(f.options['answer'], '7')
  })

  t.test('when a .local and a .d file override, then known/ keeps the old value', async (t) => {
    await mkdir(path.join(dir, 'demo.d'), { recursive: true })
    await writeFile(path.join(dir, 'demo.d', 'extra.conf'), '[Definition]\nignoreregex = %(known/ignoreregex)s\n   from ::1\n')
    await writeFile(path.join(dir, 'demo.local'), '[Definition]\nmaxlines = 3\n')
    t.teardown(() => rm(path.join(dir, 'demo.local')))
    const f = await readFilter(dir, 'demo')
    t.same(f.ignoreregex, ['from 127\\.0\\.0\\.1', 'from ::1'])
    t.equal(f.maxlines, 3)
    await rm(path.join(dir, 'demo.d'), { recursive: true })
  })
})

t.test('given broken filters, then errors name file, option and reason', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'banledger-f2b-reader-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const cases: readonly [string, string, RegExp][] = [
    ['loop', '[Definition]\na = <b>\nb = <a>\nfailregex = <a>\n', /loop\.conf option 'failregex'.*refers to itself/],
    ['self', '[Definition]\nfailregex = x <failregex>\n', /option 'failregex'.*refers to itself/],
    ['missing', '[Definition]\nfailregex = %(nowhere)s <HOST>\n', /missing\.conf option 'failregex'.*%\(nowhere\)s refers to no option/],
    ['deep', '[Definition]\na = %(b)s\nb = %(a)s\nfailregex = %(a)s\n', /option 'failregex'.*deeper than 10/],
    ['percent', '[Definition]\nfailregex = 100% <HOST>\n', /'%' must be followed/],
    ['nosection', 'failregex = x\n', /nosection\.conf: line 1: no section header/],
    ['twice', '[Definition]\nfailregex = a\nfailregex = b\n', /option 'failregex': line 3: given twice/],
    ['maxlines', '[Definition]\nfailregex = <HOST>\nmaxlines = lots\n', /option 'maxlines': not a positive integer/],
  ]
  for (const [name, text, message] of cases) {
    await writeFile(path.join(dir, `${name}.conf`), text)
    await t.rejects(readFilter(dir, name), { code: 'BANLEDGER_FILTER_INVALID', name: 'Fail2banError', message }, name)
  }
  await t.rejects(readFilter(dir, 'absent'), { code: 'BANLEDGER_FILTER_INVALID', message: /no such filter/ })
  await t.rejects(readFilter(dir, '../etc/passwd'), { code: 'BANLEDGER_FILTER_INVALID', message: /not a valid filter name/ })
})
