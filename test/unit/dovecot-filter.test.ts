// BSD syslog timestamps are local time: pin the zone before any Date use.
process.env.TZ = 'Europe/Paris'

import t from 'tap'
import { performance } from 'node:perf_hooks'
import { dovecotFilter } from '../../services/watcher/filters/dovecot.js'
import { builtinFilter } from '../../services/watcher/filters/builtin.js'
import type { FilterMatch } from '../../services/watcher/filters/filter.js'
import { patience } from '../helpers/patience.js'

const NOW = Date.UTC(2026, 10, 3, 12)
// 10:00:02 in Paris on 3 November 2026 (CET, UTC+1).
const AT = Date.UTC(2026, 10, 3, 9, 0, 2)
const PREFIX = 'Nov  3 10:00:02 mail dovecot: '
const match = (text: string): FilterMatch | null => dovecotFilter.match(text, NOW)
const FIELDS = 'user=<alice>, method=PLAIN, rip=203.0.113.7, lip=192.0.2.1, session=<AbC+/1x>'

t.test('given the dovecot filter', async (t) => {
  t.equal(dovecotFilter.name, 'dovecot')
  t.equal(builtinFilter('dovecot'), dovecotFilter)
  const alice = { ip: '203.0.113.7', at: AT, user: 'alice' }
  const cases: readonly (readonly [string, FilterMatch])[] = [
    [`${PREFIX}imap-login: Disconnected (auth failed, 1 attempts in 2 secs): ${FIELDS}`, alice],
    [`${PREFIX}imap-login: Aborted login (auth failed, 1 attempts in 2 secs): ${FIELDS}`, alice],
    [`${PREFIX}pop3-login: Aborted login (auth failed, 3 attempts in 12 secs): ${FIELDS}`, alice],
    [`${PREFIX}managesieve-login: Disconnected (auth failed, 1 attempts): ${FIELDS}`, alice],
    [`${PREFIX}submission-login: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): ${FIELDS}`, alice],
    [`${PREFIX}imap-login: Login aborted: Connection closed (auth failed, 1 attempts in 2 secs) (auth_failed): ${FIELDS}`, alice],
    [`${PREFIX}imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<alice>, method=PLAIN, rip=203.0.113.7, lip=192.0.2.1, mpid=0, TLS, session=<AbC>`, alice],
    [`${PREFIX}imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<alice>, method=PLAIN, rip=203.0.113.7, lip=192.0.2.1, TLS handshaking: SSL_accept() failed: error:0A00010B:SSL routines::wrong version number, session=<AbC>`, alice],
    [`${PREFIX}imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<alice>, method=PLAIN, rip=203.0.113.7, lip=192.0.2.1, secured`, alice],
    [`${PREFIX}imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<alice>, method=PLAIN, rip=2001:db8::7, lip=2001:db8::1, session=<AbC>`, { ip: '2001:db8::7', at: AT, user: 'alice' }],
    [`${PREFIX}imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<>, method=PLAIN, rip=203.0.113.7, lip=192.0.2.1`, { ip: '203.0.113.7', at: AT }],
    [`${PREFIX}imap-login: Disconnected (auth failed, 1 attempts in 2 secs): rip=203.0.113.7, lip=192.0.2.1`, { ip: '203.0.113.7', at: AT }],
    [`Nov  3 10:00:02 mail dovecot[77]: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): ${FIELDS}\n`, alice],
    [`Nov 03 10:00:02 imap-login: Info: Disconnected (auth failed, 1 attempts in 2 secs): ${FIELDS}`, alice],
    [`${PREFIX}auth-worker(123): pam(alice,203.0.113.7,<AbC+/1x>): pam_authenticate() failed: Authentication failure (password mismatch?)`, alice],
    [`${PREFIX}auth-worker(123): pam(alice,203.0.113.7): pam_authenticate() failed: User not known to the underlying authentication module`, alice],
    [`${PREFIX}auth: passwd-file(alice,203.0.113.7): unknown user`, alice],
    [`${PREFIX}auth: passwd-file(alice@example.org,203.0.113.7,<AbC>): Password mismatch`, { ip: '203.0.113.7', at: AT, user: 'alice@example.org' }],
    [`${PREFIX}auth-worker(9): sql(alice,2001:db8::7,<AbC>): Password mismatch (SHA1 of given password: 0a1b2c)`, { ip: '2001:db8::7', at: AT, user: 'alice' }],
    [`${PREFIX}auth: Info: passwd-file(alice,203.0.113.7): unknown user`, alice],
    [`Nov 03 10:00:02 auth-worker(123): Info: pam(alice,203.0.113.7,<AbC>): pam_authenticate() failed: Authentication failure (password mismatch?)`, alice],
  ]
  for (const [text, expected] of cases) {
    t.same(match(text), expected, `when the line is ${JSON.stringify(text)}, then it matches ${expected.ip}`)
  }
  t.test('when the line is a success, other chatter, another program or malformed, then there is no match', async (t) => {
    for (const text of [
      `${PREFIX}imap-login: Login: ${FIELDS}`,
      `${PREFIX}imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=203.0.113.7, lip=192.0.2.1, session=<AbC>`,
      `${PREFIX}imap(alice)<1><AbC>: Disconnected: Logged out in=10 out=20`,
      `${PREFIX}imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<alice>, method=PLAIN, rip=attacker.example, lip=192.0.2.1`,
      `${PREFIX}imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<alice>, method=PLAIN, rip=203.0.113.7`,
      `${PREFIX}imap-login: Disconnected (auth failed, 1 attempts in 2 secs): ${FIELDS}, extra`,
      `${PREFIX}auth: passwd-file(alice,203.0.113.7): Password mismatch (given password: hunter2)`,
      `${PREFIX}auth: passwd-file(alice,<AbC>): unknown user`,
      `${PREFIX}auth: passwd-file(alice): unknown user`,
      `${PREFIX}lmtp(alice): passwd-file(alice,203.0.113.7): unknown user`,
      `Nov  3 10:00:02 mail postfix/smtpd[1]: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): ${FIELDS}`,
      `Nov 03 10:00:02 imap-login: Disconnected (auth failed, 1 attempts in 2 secs): ${FIELDS}`,
      `Nov 31 10:00:02 mail dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): ${FIELDS}`,
      '',
    ]) t.equal(match(text), null, text)
  })
})

t.test('given user names crafted to inject another address', async (t) => {
  const real = '203.0.113.7'
  const login = (user: string): string => `${PREFIX}imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<${user}>, method=PLAIN, rip=${real}, lip=192.0.2.1, session=<AbC>`
  for (const user of [
    'x>, method=PLAIN, rip=198.51.100.9, lip=192.0.2.1, session=<AbC',
    'x>, method=PLAIN, rip=198.51.100.9, lip=192.0.2.1',
    'rip=198.51.100.9, lip=192.0.2.1',
    'x>, rip=198.51.100.9, lip=192.0.2.1, TLS, session=<y> rip=198.51.100.9,',
    'client: 198.51.100.9, [client 198.51.100.9] unknown[198.51.100.9]',
    '',
  ]) t.equal(match(login(user))?.ip, real, user)
  t.test('when the login line has no rip after the user, then a rip inside the user is not taken', async (t) => {
    t.equal(match(`${PREFIX}imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, method=PLAIN, rip=198.51.100.9, lip=192.0.2.1, session=<AbC>, method=PLAIN, lip=192.0.2.1, session=<AbC>`), null)
  })
  t.test('when an auth line user name holds a comma, then there is no match (the login line still counts)', async (t) => {
    t.equal(match(`${PREFIX}auth: passwd-file(x,198.51.100.9,${real}): unknown user`), null)
    t.equal(match(`${PREFIX}auth: passwd-file(x,198.51.100.9): unknown user,${real}): unknown user`), null)
    t.equal(match(`${PREFIX}auth-worker(1): pam(x,198.51.100.9,<a>): pam_authenticate() failed: Authentication failure,${real},<b>): pam_authenticate() failed: Authentication failure (password mismatch?)`), null)
  })
  t.test('when an auth line user name holds other address-like text, then the real address is taken', async (t) => {
    t.equal(match(`${PREFIX}auth: passwd-file(rip=198.51.100.9 [client 198.51.100.9],${real}): unknown user`)?.ip, real)
  })
})

t.test('given hostile lines of 10,000 characters', async (t) => {
  const pad = (unit: string, head: string, tail = ''): string => head + unit.repeat(Math.ceil((10_000 - head.length - tail.length) / unit.length)) + tail
  const LOGIN = `${PREFIX}imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<`
  for (const [i, text] of [
    pad('>, method=PLAIN, rip=198.51.100.9, lip=1', LOGIN, ', extra'),
    pad('>, rip=1, lip=1, TLS', LOGIN),
    pad('>, ', LOGIN, '>, rip=203.0.113.7, lip=192.0.2.1, session=<'),
    pad('a', LOGIN, '>, method=PLAIN, rip=203.0.113.7, lip=192.0.2.1, TLS'),
    pad('x', `${PREFIX}auth: passwd-file(`, ',203.0.113.7): unknown use'),
    pad(',1', `${PREFIX}auth: passwd-file(`),
    pad('(1)', `${PREFIX}auth-worker`),
    pad('x: ', 'Nov 03 10:00:02 '),
  ].entries()) {
    let got: FilterMatch | null = null
    const start = performance.now()
    for (let k = 0; k < 10; k++) got = match(text)
    const perLine = (performance.now() - start) / 10
    t.ok(perLine < patience(50), `when hostile line #${i} (${text.length} chars) is matched, then it takes well under ${patience(50)} ms (${perLine.toFixed(3)} ms)`)
    if (i === 3) t.equal(got?.ip, '203.0.113.7', 'and the long user name still matches its rip')
    else t.equal(got, null, 'and it does not match')
  }
})
