// Apache writes local time: pin the zone before any Date use.
process.env.TZ = 'Europe/Paris'

import t from 'tap'
import { performance } from 'node:perf_hooks'
import { apacheAuthFilter } from '../../services/watcher/filters/apache-auth.js'
import { apacheBadBotsFilter, badBotsFilter, DEFAULT_BAD_BOTS } from '../../services/watcher/filters/apache-badbots.js'
import { builtinFilter } from '../../services/watcher/filters/builtin.js'
import type { FilterMatch, LineFilter } from '../../services/watcher/filters/filter.js'
import { patience } from '../helpers/patience.js'

const NOW = Date.UTC(2026, 10, 3, 12)
// 10:00:02 in Paris on 3 November 2026 (CET, UTC+1).
const AT = Date.UTC(2026, 10, 3, 9, 0, 2)
const match = (filter: LineFilter, text: string): FilterMatch | null => filter.match(text, NOW)

const V24 = '[Tue Nov 03 10:00:02.123456 2026] [auth_basic:error] [pid 123:tid 456] '
const V22 = '[Tue Nov 03 10:00:02 2026] [error] '
const AT24 = AT + 123

t.test('given the apache-auth filter', async (t) => {
  t.equal(apacheAuthFilter.name, 'apache-auth')
  t.equal(builtinFilter('apache-auth'), apacheAuthFilter)
  const cases: readonly (readonly [string, FilterMatch])[] = [
    [`${V24}[client 203.0.113.7:51234] AH01618: user alice not found: /private`, { ip: '203.0.113.7', at: AT24, user: 'alice' }],
    [`${V24}[client 203.0.113.7:51234] AH01617: user alice: authentication failure for "/private": Password Mismatch`, { ip: '203.0.113.7', at: AT24, user: 'alice' }],
    [`${V24}[client 203.0.113.7:51234] AH01617: user alice: authentication failure for "/private": Password Mismatch, referer: https://example.org/`, { ip: '203.0.113.7', at: AT24, user: 'alice' }],
    [`${V24}[client 203.0.113.7:51234] AH01614: client used wrong authentication scheme: /private`, { ip: '203.0.113.7', at: AT24 }],
    [`${V24}[client 2001:db8::7:51234] AH01618: user alice not found: /private`, { ip: '2001:db8::7', at: AT24, user: 'alice' }],
    [`${V24}[client 2001:db8::7:4242] AH01618: user alice not found: /private`, { ip: '2001:db8::7', at: AT24, user: 'alice' }],
    [`${V24}[client [2001:db8::7]:51234] AH01618: user alice not found: /private`, { ip: '2001:db8::7', at: AT24, user: 'alice' }],
    [`${V24}[client ::ffff:203.0.113.7:51234] AH01618: user alice not found: /private`, { ip: '203.0.113.7', at: AT24, user: 'alice' }],
    [`[Tue Nov 03 10:00:02.123456 2026] [auth_basic:error] [pid 123] [client 203.0.113.7:51234] AH01618: user alice not found: /private`, { ip: '203.0.113.7', at: AT24, user: 'alice' }],
    [`${V24}[remote 192.0.2.10:4444] [client 203.0.113.7:0] AH01618: user alice not found: /private`, { ip: '203.0.113.7', at: AT24, user: 'alice' }],
    [`[Tue Nov 03 10:00:02.123456 2026] [auth_digest:error] [pid 1:tid 2] [client 203.0.113.7:51234] AH01790: user \`alice' in realm \`private area' not found: /private`, { ip: '203.0.113.7', at: AT24, user: 'alice' }],
    [`[Tue Nov 03 10:00:02.123456 2026] [auth_digest:error] [pid 1:tid 2] [client 203.0.113.7:51234] AH01792: user alice: password mismatch: /private`, { ip: '203.0.113.7', at: AT24, user: 'alice' }],
    [`[Tue Nov 03 10:00:02.123456 2026] [auth_digest:error] [pid 1:tid 2] [client 203.0.113.7:51234] AH01788: realm mismatch - got \`x' but expected \`private'`, { ip: '203.0.113.7', at: AT24 }],
    [`${V22}[client 203.0.113.7] user alice: authentication failure for "/x": Password Mismatch`, { ip: '203.0.113.7', at: AT, user: 'alice' }],
    [`${V22}[client 203.0.113.7] user alice not found: /x`, { ip: '203.0.113.7', at: AT, user: 'alice' }],
    [`${V22}[client 203.0.113.7] user alice not found: /x, referer: http://example.org/`, { ip: '203.0.113.7', at: AT, user: 'alice' }],
    [`${V22}[client 2001:db8::7] user alice not found: /x`, { ip: '2001:db8::7', at: AT, user: 'alice' }],
    [`${V22}[client 203.0.113.7] Digest: user alice: password mismatch: /x`, { ip: '203.0.113.7', at: AT, user: 'alice' }],
    [`${V22}[client 203.0.113.7] client used wrong authentication scheme: /x`, { ip: '203.0.113.7', at: AT }],
    [`[Tue Nov  3 10:00:02 2026] [error] [client 203.0.113.7] user alice not found: /x\r\n`, { ip: '203.0.113.7', at: AT, user: 'alice' }],
  ]
  for (const [text, expected] of cases) {
    t.same(match(apacheAuthFilter, text), expected, `when the line is "${text}", then it matches ${expected.ip}`)
  }

  t.test('when the time is in summer, then the Paris offset is +2', async (t) => {
    t.same(match(apacheAuthFilter, '[Fri Jul 03 10:00:02 2026] [error] [client 203.0.113.7] user a not found: /x'), { ip: '203.0.113.7', at: Date.UTC(2026, 6, 3, 8, 0, 2), user: 'a' })
  })
  t.test('when the line is not an authentication failure or is malformed, then there is no match', async (t) => {
    for (const text of [
      `${V24}[client 203.0.113.7:51234] AH01630: client denied by server configuration: /srv/www`,
      `${V24}[client 203.0.113.7:51234] AH00128: File does not exist: /srv/www/favicon.ico`,
      `${V24}AH00094: Command line: '/usr/sbin/apache2'`,
      `${V24}[client attacker.example:51234] AH01618: user alice not found: /private`,
      `${V24}[client 203.0.113.256:51234] AH01618: user alice not found: /private`,
      `${V24}[client 2001:db8::7%eth0:51234] AH01618: user alice not found: /private`,
      `[Tue Nov 31 10:00:02 2026] [error] [client 203.0.113.7] user alice not found: /x`,
      `[Tue Nov 03 25:00:02 2026] [error] [client 203.0.113.7] user alice not found: /x`,
      `[yesterday] [error] [client 203.0.113.7] user alice not found: /x`,
      `Nov  3 10:00:02 web1 apache2[1]: [client 203.0.113.7] user alice not found: /x`,
      `203.0.113.7 - - [03/Nov/2026:10:00:02 +0100] "GET / HTTP/1.1" 401 512 "-" "curl/8.0"`,
      '',
    ]) t.equal(match(apacheAuthFilter, text), null, text)
  })
})

t.test('given client text crafted to inject another address into an Apache error line', async (t) => {
  const real = '203.0.113.7'
  for (const text of [
    `${V24}[client ${real}:51234] AH01618: user [client 198.51.100.9:1] not found: /private`,
    `${V24}[client ${real}:51234] AH01618: user x not found: /[client 198.51.100.9]`,
    `${V24}[client ${real}:51234] AH01617: user [client 198.51.100.9] AH01618: user x: authentication failure for "/": Password Mismatch`,
    `${V24}[client ${real}:51234] AH01617: user alice: authentication failure for "/private": Password Mismatch, referer: [client 198.51.100.9] client: 198.51.100.9`,
    `${V22}[client ${real}] user ] [client 198.51.100.9] user x not found: /x`,
    `${V22}[client ${real}] user rip=198.51.100.9, client: 198.51.100.9 not found: /x`,
  ]) t.equal(match(apacheAuthFilter, text)?.ip, real, text)
  t.test('when the real client field is not an address, then the injected one is not taken instead', async (t) => {
    t.equal(match(apacheAuthFilter, `${V22}[client attacker.example] user [client 198.51.100.9] not found: /x`), null)
    t.equal(match(apacheAuthFilter, `${V22}[client] [client 198.51.100.9] user x not found: /x`), null)
  })
})

const ACCESS = (agent: string, request = 'GET / HTTP/1.1', ip = '203.0.113.7', tail = ''): string =>
  `${ip} - - [03/Nov/2026:10:00:02 +0100] "${request}" 200 512 "-" "${agent}"${tail}`

t.test('given the apache-badbots filter with its default list', async (t) => {
  t.equal(apacheBadBotsFilter.name, 'apache-badbots')
  t.equal(builtinFilter('apache-badbots'), apacheBadBotsFilter)
  t.ok(DEFAULT_BAD_BOTS.length > 20)
  const cases: readonly (readonly [string, FilterMatch])[] = [
    [ACCESS('EmailCollector/1.0'), { ip: '203.0.113.7', at: AT }],
    [ACCESS('Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)'), { ip: '203.0.113.7', at: AT }],
    [ACCESS('sqlmap/1.7.2#stable (https://sqlmap.org)', 'POST /login HTTP/1.1'), { ip: '203.0.113.7', at: AT }],
    [ACCESS('mozilla/4.0 (compatible; NIKTO)', 'HEAD / HTTP/1.0'), { ip: '203.0.113.7', at: AT }],
    [ACCESS('Mozilla/3.0 (compatible; Indy Library)', 'GET / HTTP/1.1', '2001:db8::7'), { ip: '2001:db8::7', at: AT }],
    [ACCESS('Mozilla \\"quoted\\" EmailWolf 1.0'), { ip: '203.0.113.7', at: AT }],
    [ACCESS('Mozilla\\x22 EmailWolf'), { ip: '203.0.113.7', at: AT }],
    [ACCESS('Fuzz Faster U Fool v2.1.0', 'GET /FUZZ HTTP/1.1', '203.0.113.7', ' "-" 0.001'), { ip: '203.0.113.7', at: AT }],
    [ACCESS('Mozilla/5.0 zgrab/0.x') + '\n', { ip: '203.0.113.7', at: AT }],
    [`203.0.113.7 - - [03/Nov/2026:10:00:02 -0500] "GET / HTTP/1.1" 200 - "-" "WebZIP/3.5"`, { ip: '203.0.113.7', at: Date.UTC(2026, 10, 3, 15, 0, 2) }],
    [`203.0.113.7 - alice [03/Nov/2026:10:00:02 +0000] "GET / HTTP/1.1" 200 512 "https://example.org/" "Atomic_Email_Hunter/4.0"`, { ip: '203.0.113.7', at: Date.UTC(2026, 10, 3, 10, 0, 2) }],
  ]
  for (const [text, expected] of cases) {
    t.same(match(apacheBadBotsFilter, text), expected, `when the line is ${JSON.stringify(text)}, then it matches ${expected.ip}`)
  }
  t.test('when the agent is a browser, or a bot name is only in the URL, the referer or inside a longer word, then there is no match', async (t) => {
    for (const text of [
      ACCESS('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'),
      ACCESS('Mozilla/5.0', 'GET /EmailCollector?sqlmap=1 HTTP/1.1'),
      `203.0.113.7 - - [03/Nov/2026:10:00:02 +0100] "GET / HTTP/1.1" 200 512 "http://x/?ua=Nikto" "Mozilla/5.0"`,
      ACCESS('Mozilla/5.0 (MyZeusBrowser)'),
      ACCESS('sqlmapper/1.0'),
      ACCESS('Nikto2x'),
      ACCESS(''),
    ]) t.equal(match(apacheBadBotsFilter, text), null, text)
  })
  t.test('when the line is malformed, then there is no match', async (t) => {
    for (const text of [
      `203.0.113.7 - - [03/Nov/2026:10:00:02] "GET / HTTP/1.1" 200 512 "-" "Nikto"`,
      `203.0.113.7 - - [31/Nov/2026:10:00:02 +0100] "GET / HTTP/1.1" 200 512 "-" "Nikto"`,
      `203.0.113.7 - - [03/Nov/2026:10:00:02 +0100] "GET / HTTP/1.1" 200 512 "-" "Nikto`,
      `203.0.113.7 - - [03/Nov/2026:10:00:02 +0100] "GET / HTTP/1.1" 200 512 "Nikto"`,
      `203.0.113.7 - - [03/Nov/2026:10:00:02 +0100] "GET / HTTP/1.1" 2000 512 "-" "Nikto"`,
      `203.0.113.7 - - [03/Nov/2026:10:00:02 +0100] "GET / HTTP/1.1" 200 512 "-" "Nikto"x`,
      `crawler.example - - [03/Nov/2026:10:00:02 +0100] "GET / HTTP/1.1" 200 512 "-" "Nikto"`,
      `203.0.113.7:80 - - [03/Nov/2026:10:00:02 +0100] "GET / HTTP/1.1" 200 512 "-" "Nikto"`,
      `Nikto - - [03/Nov/2026:10:00:02 +0100] "GET / HTTP/1.1" 200 512 "-" "Nikto"`,
    ]) t.equal(match(apacheBadBotsFilter, text), null, text)
  })
})

t.test('given an apache-badbots filter with extra agents', async (t) => {
  const filter = badBotsFilter(['BadCrawler', 'a.b(c)*', ' Spaced Bot '])
  t.equal(filter.name, 'apache-badbots')
  t.test('when the agent names an extra bot in any case, then it matches', async (t) => {
    t.equal(match(filter, ACCESS('badcrawler/2.0'))?.ip, '203.0.113.7')
    t.equal(match(filter, ACCESS('x spaced bot/1'))?.ip, '203.0.113.7')
    t.equal(match(filter, ACCESS('EmailSiphon'))?.ip, '203.0.113.7', 'and the default list still applies')
    t.equal(match(apacheBadBotsFilter, ACCESS('BadCrawler/2.0')), null, 'and the default instance is unchanged')
  })
  t.test('when an extra agent holds regex syntax, then it is matched as plain text', async (t) => {
    t.equal(match(filter, ACCESS('x a.b(c)* y'))?.ip, '203.0.113.7')
    t.equal(match(filter, ACCESS('axb(c)')), null)
    t.equal(match(filter, ACCESS('a.bcc')), null)
    t.equal(match(badBotsFilter(['.*']), ACCESS('Mozilla/5.0')), null)
  })
  t.test('when an extra agent is blank or not a string, then it is a TypeError', async (t) => {
    t.throws(() => badBotsFilter(['']), TypeError)
    t.throws(() => badBotsFilter(['  ']), TypeError)
    t.throws(() => badBotsFilter(['x'.repeat(257)]), TypeError)
    t.throws(() => badBotsFilter([42 as unknown as string]), TypeError)
  })
})

t.test('given client text crafted to inject another address into an access log line', async (t) => {
  const real = '203.0.113.7'
  for (const text of [
    ACCESS('Nikto 198.51.100.9 [client 198.51.100.9] rip=198.51.100.9, client: 198.51.100.9,', 'GET /198.51.100.9 HTTP/1.1'),
    ACCESS('Nikto', 'GET /\\" 200 1 \\"-\\" \\"x\\" 198.51.100.9 - - [03/Nov/2026:10:00:02 +0100] HTTP/1.1'),
    `${real} - - [03/Nov/2026:10:00:02 +0100] "GET / HTTP/1.1" 200 512 "198.51.100.9 - - [03/Nov/2026:10:00:02 +0100]" "Nikto"`,
    // A server that does not escape quotes: the client may choose which field reads as the agent, never the address.
    `${real} - - [03/Nov/2026:10:00:02 +0100] "GET /" 200 1 "-" "Nikto" 198.51.100.9 HTTP/1.1" 200 512 "-" "Mozilla/5.0"`,
  ]) t.equal(match(apacheBadBotsFilter, text)?.ip, real, text)
  t.test('when only the request or referer imitates a bad agent, then there is no match', async (t) => {
    t.equal(match(apacheBadBotsFilter, ACCESS('Mozilla/5.0', 'GET /\\" 200 1 \\"-\\" \\"Nikto\\" HTTP/1.1')), null)
  })
})

t.test('given hostile lines of 10,000 characters', async (t) => {
  const pad = (unit: string, head: string, tail = ''): string => head + unit.repeat(Math.ceil((10_000 - head.length - tail.length) / unit.length)) + tail
  const hostile: readonly (readonly [LineFilter, string])[] = [
    [apacheAuthFilter, pad(' not found', `${V24}[client 203.0.113.7:1] AH01618: user `, ' x')],
    [apacheAuthFilter, pad(': authentication failure for ', `${V24}[client 203.0.113.7:1] AH01617: user `)],
    [apacheAuthFilter, pad('[client 198.51.100.9] ', V22)],
    [apacheAuthFilter, pad('[', '[')],
    [apacheAuthFilter, pad("' in realm `", `${V22}[client 203.0.113.7] Digest: user \``)],
    [apacheAuthFilter, pad('1', `${V24}[client 2001:db8::`)],
    [apacheBadBotsFilter, ACCESS(pad('nikt', ''))],
    [apacheBadBotsFilter, ACCESS(pad('\\"', ''))],
    [apacheBadBotsFilter, pad('"', '203.0.113.7 - - [03/Nov/2026:10:00:02 +0100] ')],
    [apacheBadBotsFilter, pad(' 200 1 "-"', '203.0.113.7 - - [03/Nov/2026:10:00:02 +0100] "GET / HTTP/1.1"')],
    [apacheBadBotsFilter, pad('x', '')],
    [apacheBadBotsFilter, pad(' ', '203.0.113.7')],
    [badBotsFilter(['aaaa', 'a a']), ACCESS(pad('a', ''))],
  ]
  for (const [i, [filter, text]] of hostile.entries()) {
    let got: FilterMatch | null = null
    const start = performance.now()
    for (let k = 0; k < 10; k++) got = filter.match(text, NOW)
    const perLine = (performance.now() - start) / 10
    t.ok(perLine < patience(50), `when hostile line #${i} (${text.length} chars) goes through ${filter.name}, then it takes well under ${patience(50)} ms (${perLine.toFixed(3)} ms)`)
    t.equal(got, null, 'and it does not match')
  }
})
