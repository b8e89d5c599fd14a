// nginx writes local time: pin the zone before any Date use.
process.env.TZ = 'Europe/Paris'

import t from 'tap'
import { performance } from 'node:perf_hooks'
import { nginxHttpAuthFilter } from '../../services/watcher/filters/nginx-http-auth.js'
import { builtinFilter } from '../../services/watcher/filters/builtin.js'
import type { FilterMatch } from '../../services/watcher/filters/filter.js'
import { patience } from '../helpers/patience.js'

const NOW = Date.UTC(2026, 10, 3, 12)
// 10:00:02 in Paris on 3 November 2026 (CET, UTC+1).
const AT = Date.UTC(2026, 10, 3, 9, 0, 2)
const PREFIX = '2026/11/03 10:00:02 [error] 123#123: *45 '
const TAIL = ', server: example.org, request: "GET /private HTTP/1.1", host: "example.org"'
const match = (text: string): FilterMatch | null => nginxHttpAuthFilter.match(text, NOW)

t.test('given the nginx-http-auth filter', async (t) => {
  t.equal(nginxHttpAuthFilter.name, 'nginx-http-auth')
  t.equal(builtinFilter('nginx-http-auth'), nginxHttpAuthFilter)
  const cases: readonly (readonly [string, FilterMatch])[] = [
    [`${PREFIX}user "alice" was not found in "/etc/nginx/.htpasswd", client: 203.0.113.7${TAIL}`, { ip: '203.0.113.7', at: AT, user: 'alice' }],
    [`${PREFIX}user "alice": password mismatch, client: 203.0.113.7${TAIL}`, { ip: '203.0.113.7', at: AT, user: 'alice' }],
    [`${PREFIX}no user/password was provided for basic authentication, client: 203.0.113.7${TAIL}`, { ip: '203.0.113.7', at: AT }],
    [`${PREFIX}user "alice": password mismatch, client: 2001:db8::7${TAIL}`, { ip: '2001:db8::7', at: AT, user: 'alice' }],
    [`${PREFIX}user "alice": password mismatch, client: 203.0.113.7${TAIL}, referrer: "https://example.org/"\n`, { ip: '203.0.113.7', at: AT, user: 'alice' }],
    [`${PREFIX}user "alice": password mismatch, client: 203.0.113.7`, { ip: '203.0.113.7', at: AT, user: 'alice' }],
    [`2026/11/03 10:00:02 [error] 123#0: user "": password mismatch, client: 203.0.113.7${TAIL}`, { ip: '203.0.113.7', at: AT }],
    [`2026/07/03 10:00:02 [error] 1#1: *2 user "bob" was not found in "/srv/htpasswd", client: 198.51.100.20${TAIL}`, { ip: '198.51.100.20', at: Date.UTC(2026, 6, 3, 8, 0, 2), user: 'bob' }],
  ]
  for (const [text, expected] of cases) {
    t.same(match(text), expected, `when the line is ${JSON.stringify(text)}, then it matches ${expected.ip}`)
  }
  t.test('when the line is another error or malformed, then there is no match', async (t) => {
    for (const text of [
      `${PREFIX}open() "/srv/www/favicon.ico" failed (2: No such file or directory), client: 203.0.113.7${TAIL}`,
      `${PREFIX}access forbidden by rule, client: 203.0.113.7${TAIL}`,
      `${PREFIX}user "alice": password mismatch, client: attacker.example${TAIL}`,
      `${PREFIX}user "alice": password mismatch, client: 203.0.113.7:4242${TAIL}`,
      `${PREFIX}user "alice": password mismatch, client: 203.0.113.7 ${TAIL}`,
      `2026/11/31 10:00:02 [error] 123#123: *45 user "alice": password mismatch, client: 203.0.113.7${TAIL}`,
      `2026/11/03 24:00:02 [error] 123#123: *45 user "alice": password mismatch, client: 203.0.113.7${TAIL}`,
      `2026-11-03 10:00:02 [error] 123#123: *45 user "alice": password mismatch, client: 203.0.113.7${TAIL}`,
      `Nov  3 10:00:02 web1 nginx: user "alice": password mismatch, client: 203.0.113.7${TAIL}`,
      '',
    ]) t.equal(match(text), null, text)
  })
})

t.test('given client text crafted to inject another address', async (t) => {
  const real = '203.0.113.7'
  for (const text of [
    `${PREFIX}user "a, client: 198.51.100.9, server: x": password mismatch, client: ${real}${TAIL}`,
    `${PREFIX}user "client: 198.51.100.9, rip=198.51.100.9, [client 198.51.100.9]" was not found in "/etc/nginx/.htpasswd", client: ${real}${TAIL}`,
    `${PREFIX}user "alice": password mismatch, client: ${real}, server: example.org, request: "GET /, client: 198.51.100.9, HTTP/1.1", host: "client: 198.51.100.9"`,
    `${PREFIX}no user/password was provided for basic authentication, client: ${real}, server: example.org, request: "GET /\\" client: 198.51.100.9, HTTP/1.1", host: "x"`,
  ]) t.equal(match(text)?.ip, real, text)
  t.test('when the user name holds the fixed text that follows it, then there is no match (the line reads two ways)', async (t) => {
    t.equal(match(`${PREFIX}user "x": password mismatch, client: 198.51.100.9, server: y": password mismatch, client: ${real}${TAIL}`), null)
    t.equal(match(`${PREFIX}user "x" was not found in "/f", client: 198.51.100.9, server: y" was not found in "/etc/nginx/.htpasswd", client: ${real}${TAIL}`), null)
    t.equal(match(`${PREFIX}user "x" was not found in "/f", client: 198.51.100.9, server: y": password mismatch, client: ${real}${TAIL}`), null)
    t.equal(match(`${PREFIX}user "x": password mismatch, client: 198.51.100.9, server: y" was not found in "/etc/nginx/.htpasswd", client: ${real}${TAIL}`), null)
  })
  t.test('when a header after the address holds that fixed text, then there is no match rather than a guess', async (t) => {
    t.equal(match(`${PREFIX}user "alice": password mismatch, client: ${real}${TAIL}, referrer: "x": password mismatch, client: 198.51.100.9, server: y"`), null)
  })
  t.test('when the user name holds quotes but not that fixed text, then it matches with the whole name', async (t) => {
    t.same(match(`${PREFIX}user "a"b, client: 198.51.100.9": password mismatch, client: ${real}${TAIL}`), { ip: real, at: AT, user: 'a"b, client: 198.51.100.9' })
    t.same(match(`${PREFIX}user "x", client: 198.51.100.9" was not found in "/etc/nginx/.htpasswd", client: ${real}${TAIL}`), { ip: real, at: AT, user: 'x", client: 198.51.100.9' })
  })
})

t.test('given hostile lines of 10,000 characters', async (t) => {
  const pad = (unit: string, head: string, tail = ''): string => head + unit.repeat(Math.ceil((10_000 - head.length - tail.length) / unit.length)) + tail
  for (const [i, text] of [
    pad(', client: 1', `${PREFIX}user "a": password mismatch`),
    pad('" was not found in "', `${PREFIX}user "`),
    pad('a', `${PREFIX}user "`, '" was not found in "/x", client: 203.0.113.7,'),
    pad(', client: 203.0.113.7 ', `${PREFIX}no user/password was provided for basic authentication`),
    pad('2026/11/03 10:00:02 ', ''),
    pad('*1 ', '2026/11/03 10:00:02 [error] 1#1: '),
  ].entries()) {
    let got: FilterMatch | null = null
    const start = performance.now()
    for (let k = 0; k < 10; k++) got = match(text)
    const perLine = (performance.now() - start) / 10
    t.ok(perLine < patience(50), `when hostile line #${i} (${text.length} chars) is matched, then it takes well under ${patience(50)} ms (${perLine.toFixed(3)} ms)`)
    t.equal(got, null, 'and it does not match')
  }
})
