// The pure parts of the journal source (issue 3): journalctl's JSON to the
// line filters read, match expressions, journalctl's arguments, and both
// kinds of filters (built-in, fail2ban in journal mode) on those lines.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { parseConfig } from '../../ops/config/load-config.js'
import { UnknownFilterError, watchedJails } from '../../services/run/filters-from-config.js'
import { asLineFilter, compileFilter } from '../../services/watcher/fail2ban/filter-engine.js'
import { readFilter } from '../../services/watcher/fail2ban/filter-reader.js'
import { sshdFilter, sshdSuccessFilter } from '../../services/watcher/filters/sshd.js'
import { entryIdOf, journalModeFilter, recordOfJson, type JournalRecord } from '../../services/watcher/journal-entry.js'
import { journalctlArgs } from '../../services/watcher/journal-follower.js'
import { formatMatch, matchArgs, parseJournalMatch, unionOf, type JournalMatch } from '../../services/watcher/journal-match.js'
import { eventsOfLines } from '../../services/watcher/watcher.js'
import { tempDir } from '../helpers/cli.js'
import { fail2banFiles, fail2banUnavailable } from '../helpers/fail2ban-files.js'

const CURSOR = 's=7ee0aa38cc70470187d2546024fe8f7a;i=15a;b=e430e07dadc34b409efc1497b4729c7f;m=ec643d28;t=660c58ff4dcb6;x=a76eb12f2761aacc'
// 2026-11-21T08:58:20.276918Z
const T = '1795251500276918'
const AT = Date.UTC(2026, 10, 21, 8, 58, 20, 276)

function entry(fields: Record<string, unknown>): string {
  return JSON.stringify({ __CURSOR: CURSOR, __REALTIME_TIMESTAMP: T, __MONOTONIC_TIMESTAMP: '3965992232', _BOOT_ID: 'e430', ...fields })
}

function record(fields: Record<string, unknown>, max = 8192): JournalRecord {
  const r = recordOfJson(entry(fields), max)
  if (typeof r === 'string') throw new Error(`skipped: ${r}`)
  return r
}

const FAILED = 'Failed password for root from 203.0.113.7 port 4242 ssh2'

t.test('an entry becomes a syslog-like line: RFC 3339 time, host, identifier[pid]: message', async t => {
  const r = record({ _HOSTNAME: 'web1', SYSLOG_IDENTIFIER: 'sshd', SYSLOG_PID: '1234', _PID: '99', MESSAGE: FAILED })
  t.equal(r.text, `2026-11-21T08:58:20.276Z web1 sshd[1234]: ${FAILED}`, 'SYSLOG_PID before _PID')
  t.equal(r.cursor, CURSOR)
  t.equal(r.truncated, undefined)
  t.equal(record({ _HOSTNAME: 'web1', _COMM: 'sshd', _PID: '99', MESSAGE: 'x' }).text, '2026-11-21T08:58:20.276Z web1 sshd[99]: x',
    'no SYSLOG_IDENTIFIER: _COMM, and _PID')
  t.equal(record({ _HOSTNAME: 'web1', SYSLOG_IDENTIFIER: '', _COMM: 'sshd', MESSAGE: 'x' }).text, '2026-11-21T08:58:20.276Z web1 sshd: x',
    'an empty identifier counts as none; no pid, no brackets')
  t.equal(record({ MESSAGE: 'x' }).text, '2026-11-21T08:58:20.276Z - x', 'no host, no identifier (as fail2ban: the message alone)')
  t.equal(record({ _HOSTNAME: 'h', SYSLOG_IDENTIFIER: 'sshd', SYSLOG_PID: 'abc', MESSAGE: 'x' }).text, '2026-11-21T08:58:20.276Z h sshd: x',
    'a pid that is not a number is left out')
  t.equal(record({ _HOSTNAME: 'h', SYSLOG_IDENTIFIER: 'ssh d\n[1]', MESSAGE: 'x' }).text, '2026-11-21T08:58:20.276Z h ssh_d_[1]: x',
    'spaces and control characters in the identifier cannot split the line')
  t.equal(record({ _SOURCE_REALTIME_TIMESTAMP: '1795251499000000', _HOSTNAME: 'h', MESSAGE: 'x' }).text, '2026-11-21T08:58:19.000Z h x',
    '_SOURCE_REALTIME_TIMESTAMP (set by journald, when the sender sent) first')
  t.equal(record({ _HOSTNAME: 'h', SYSLOG_IDENTIFIER: 'kernel', _SOURCE_MONOTONIC_TIMESTAMP: '769570846956', MESSAGE: 'x' }).text,
    '2026-11-21T08:58:20.276Z h kernel: [769570.846956] x', 'kernel lines carry their monotonic time, as fail2ban writes them')
})

t.test('MESSAGE: bytes, several values, newlines, overlong; entries without a message or time', async t => {
  const bytes = record({ _HOSTNAME: 'h', SYSLOG_IDENTIFIER: 'sshd', MESSAGE: [...Buffer.from('bad '), 0xff, 0xfe, ...Buffer.from(' x')] })
  t.equal(bytes.text, '2026-11-21T08:58:20.276Z h sshd: bad \ufffd\ufffd x', 'non-UTF-8 is decoded lossily')
  t.equal(record({ _HOSTNAME: 'h', MESSAGE: ['one', [116, 119, 111]] }).text, '2026-11-21T08:58:20.276Z h one two', 'a field given twice: joined')
  t.equal(record({ _HOSTNAME: 'h', MESSAGE: 'a\nb' }).text, '2026-11-21T08:58:20.276Z h a\\nb', 'a newline becomes \\n, one line')
  const long = record({ _HOSTNAME: 'h', MESSAGE: `é${'a'.repeat(300)}` }, 256)
  t.equal(long.truncated, true)
  t.equal(Buffer.byteLength(long.text?.split(' h ')[1] ?? ''), 256, 'cut to max bytes')
  const cutInChar = record({ _HOSTNAME: 'h', MESSAGE: `${'a'.repeat(255)}é` }, 256)
  t.equal(cutInChar.text, `2026-11-21T08:58:20.276Z h ${'a'.repeat(255)}`, 'never half a character')
  for (const [what, fields] of [
    ['no MESSAGE', {}], ['MESSAGE null (too long without --all)', { MESSAGE: null }], ['MESSAGE a number', { MESSAGE: 7 }],
    ['bytes out of range', { MESSAGE: [300] }], ['no time', { __REALTIME_TIMESTAMP: 'x', MESSAGE: 'm' }],
  ] as const) {
    const r = record(fields)
    t.same({ text: r.text, cursor: r.cursor }, { text: null, cursor: CURSOR }, `${what}: no text, the cursor still counts`)
  }
  for (const [what, json] of [
    ['not JSON', '{"__CURSOR": "x"'], ['an array', '[1,2]'], ['no cursor', JSON.stringify({ MESSAGE: 'm' })],
    ['a cursor with a space', JSON.stringify({ __CURSOR: 'a b', MESSAGE: 'm' })],
  ] as const) {
    t.type(recordOfJson(json, 8192), 'string', `${what}: skipped`)
  }
})

t.test('entry ids: stable per entry, not per journal file', async t => {
  const id = entryIdOf(CURSOR)
  t.match(id, /^[0-9a-f]{20}$/)
  t.equal(entryIdOf(CURSOR.replace('s=7ee0', 's=0000').replace('i=15a', 'i=999')), id, 'sequence numbers do not count')
  t.not(entryIdOf(CURSOR.replace('x=a76e', 'x=b76e')), id, 'another entry, another id')
  t.not(entryIdOf('odd'), entryIdOf('odd2'), 'a cursor of another shape is hashed whole')
  const [e] = eventsOfLines([{ text: `2026-11-21T08:58:20.276Z h sshd[1]: ${FAILED}`, entryId: id }], [{
    name: 'ssh', logpath: [], journal: [['_COMM=sshd']], failure: sshdFilter, success: null, horizon: Infinity,
  }], 'web1', AT)
  t.match(e, { id: `web1/journal/${id}/ssh`, source: 'journal', ip: '203.0.113.7', at: AT, user: 'root' })
})

t.test('match expressions: fail2ban syntax, normalised, as journalctl arguments', async t => {
  const m = parseJournalMatch('_SYSTEMD_UNIT=sshd.service  + _COMM=sshd _UID=0 _COMM=sshd') as JournalMatch
  t.same(m, [['_COMM=sshd', '_UID=0'], ['_SYSTEMD_UNIT=sshd.service']])
  t.same(matchArgs(m), ['_COMM=sshd', '_UID=0', '+', '_SYSTEMD_UNIT=sshd.service'])
  t.equal(formatMatch(m), '_COMM=sshd _UID=0 + _SYSTEMD_UNIT=sshd.service')
  t.same(unionOf(m, [['_SYSTEMD_UNIT=sshd.service'], ['A=1']]), [['A=1'], ['_COMM=sshd', '_UID=0'], ['_SYSTEMD_UNIT=sshd.service']])
  t.same(parseJournalMatch('_SYSTEMD_UNIT=systemd-fsck@dev-disk-by\\x2duuid.service'), [['_SYSTEMD_UNIT=systemd-fsck@dev-disk-by\\x2duuid.service']],
    'a backslash is taken literally (no shell, no shlex)')
  t.same(parseJournalMatch('PRIORITY=5 _SYSTEMD_UNIT=fail2ban.service'), [['PRIORITY=5', '_SYSTEMD_UNIT=fail2ban.service']])
  t.type(parseJournalMatch(''), 'string')
  t.type(parseJournalMatch(`${'A=1 '.repeat(65)}`), 'string', 'at most 64 terms')
})

t.test('journalctl arguments: options first, then -- and the matches; cursor or since', async t => {
  const m: JournalMatch = [['SYSLOG_IDENTIFIER=sshd', '_UID=0']]
  const args = journalctlArgs({ cursor: undefined, since: 1_795_251_500_999, matches: m })
  t.same(args.slice(0, 5), ['--output=json', '--all', '--follow', '--no-tail', '--no-pager'])
  t.match(args[5], /^--output-fields=MESSAGE,_HOSTNAME,SYSLOG_IDENTIFIER,SYSLOG_PID,_PID,_COMM,/)
  t.same(args.slice(6), ['--since=@1795251500', '--', 'SYSLOG_IDENTIFIER=sshd', '_UID=0'])
  t.same(journalctlArgs({ cursor: CURSOR, since: 0, matches: m }).slice(6, 7), [`--after-cursor=${CURSOR}`])
  t.same(journalctlArgs({ cursor: undefined, since: -Infinity, matches: m }).slice(6, 7), ['--since=@0'], 'an infinite horizon: everything')
})

t.test('the built-in sshd filters read the lines of journal entries', async t => {
  const line = (msg: string, ident = 'sshd') => record({ _HOSTNAME: 'web1', SYSLOG_IDENTIFIER: ident, SYSLOG_PID: '42', MESSAGE: msg }).text ?? ''
  t.same(sshdFilter.match(line(FAILED), 0), { ip: '203.0.113.7', at: AT, user: 'root' })
  t.same(sshdFilter.match(line(FAILED, 'sshd-session'), 0), { ip: '203.0.113.7', at: AT, user: 'root' }, 'OpenSSH 9.8+')
  t.same(sshdSuccessFilter.match(line('Accepted publickey for alice from 203.0.113.8 port 1 ssh2: ED25519 SHA256:abc'), 0),
    { ip: '203.0.113.8', at: AT, user: 'alice' })
  t.equal(sshdFilter.match(line('Failed password for x from 198.51.100.9 port 22 ssh2 from 10.0.0.1 port 1'), 0), null, 'no injected address')
  t.equal(sshdFilter.match(line(FAILED, 'cron'), 0), null, 'another program')
})

const files = await fail2banFiles()
if (files === null && process.env['CI'] === 'true') throw new Error(`CI must run the fail2ban filter tests: ${fail2banUnavailable}`)

t.test('fail2ban\'s sshd.conf in journal mode reads them as under its systemd backend', files === null ? { skip: fail2banUnavailable } : {}, async t => {
  if (files === null) return
  const def = await readFilter(files.filterDir, 'sshd', { logtype: 'journal' })
  t.equal(def.journalmatch, '_SYSTEMD_UNIT=sshd.service + _COMM=sshd')
  const filter = journalModeFilter(asLineFilter(compileFilter(def), 'sshd'))
  const line = (msg: string) => record({ _HOSTNAME: 'web1', SYSLOG_IDENTIFIER: 'sshd', SYSLOG_PID: '42', MESSAGE: msg }).text ?? ''
  t.same(filter.match(line(FAILED), 0), { ip: '203.0.113.7', at: AT, user: 'root' }, 'dated by the entry')
  t.same(filter.match(line('Invalid user admin from 198.51.100.3 port 4243'), 0), { ip: '198.51.100.3', at: AT, user: 'admin' })
  t.equal(filter.match(line('Failed password for invalid user x from 198.51.100.9 port 22 ssh2 from 10.0.0.1 port 1 ssh2'), 0)?.ip,
    '10.0.0.1', 'fail2ban\'s own reading of an injection attempt: the last address (its regex, not ours)')
  t.equal(filter.match('web1 sshd[42]: Failed password for root from 203.0.113.7 port 4242 ssh2', 0), null, 'a line without a time is no match')
  const fileMode = asLineFilter(compileFilter(await readFilter(files.filterDir, 'sshd', {})), 'sshd')
  t.same(fileMode.match(line(FAILED), 0), { ip: '203.0.113.7', at: Math.floor(AT / 1000) * 1000, user: 'root' },
    'filter_options logtype: file reads the line with its RFC 3339 time (to the second, by fail2ban\'s date template)')
})

t.test('jails on the journal: matches from the jail, else from their filters; problems', async t => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'nomatch.conf'), '[Definition]\nfailregex = ^x from <HOST>$\n')
  await writeFile(join(dir, 'badmatch.conf'), '[Definition]\nfailregex = ^x from <HOST>$\njournalmatch = "quoted"\n')
  const config = (jails: string) => parseConfig(`filter_dirs: [${dir}]\njails:\n${jails}`, join(dir, 'banledger.yaml'), { hostname: 'h' })
  const [ssh, mail, own] = await watchedJails(config(`
  ssh: { filter: sshd, success_filter: sshd-success, backend: systemd }
  mail: { filter: postfix, backend: systemd }
  own: { filter: nomatch, backend: systemd, journalmatch: "_SYSTEMD_UNIT=x.service" }
  files: { filter: sshd, logpath: /var/log/auth.log }
`))
  t.same(ssh?.journal, [
    ['SYSLOG_IDENTIFIER=sshd', '_UID=0'], ['SYSLOG_IDENTIFIER=sshd-auth', '_UID=0'], ['SYSLOG_IDENTIFIER=sshd-session', '_UID=0'],
  ], 'sshd: OpenSSH\'s programs, sent by root')
  t.same(mail?.journal, [['_SYSTEMD_UNIT=postfix.service'], ['_SYSTEMD_UNIT=postfix@-.service']])
  t.same(own?.journal, [['_SYSTEMD_UNIT=x.service']], 'the jail\'s own, for a filter that has none')
  const err = await watchedJails(config(`
  web: { filter: apache-auth, backend: systemd }
  bots: { filter: apache-badbots, filter_options: { badbotscustom: X }, backend: systemd }
  none: { filter: nomatch, backend: systemd }
  bad: { filter: badmatch, backend: systemd }
`)).catch((e: unknown) => e)
  t.type(err, UnknownFilterError)
  const message = (err as Error).message
  t.match(message, /jails\.web\.filter: the built-in filter apache-auth reads the web server's own log files, not syslog lines: it cannot read the journal/)
  t.match(message, /jails\.bots\.filter: the built-in filter apache-badbots/)
  t.match(message, /jails\.none\.journalmatch: missing, and the filter nomatch cannot supply it \(it has no journalmatch\); set journalmatch: on the jail/)
  t.match(message, /jails\.bad\.journalmatch: missing, and the filter badmatch cannot supply it \(its journalmatch "\\"quoted\\"": .*\)/)
})
