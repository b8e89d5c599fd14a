// BSD syslog timestamps are local time: pin the zone before any Date use.
process.env.TZ = 'Europe/Paris'

import t from 'tap'
import { performance } from 'node:perf_hooks'
import { postfixFilter } from '../../services/watcher/filters/postfix.js'
import { builtinFilter } from '../../services/watcher/filters/builtin.js'
import type { FilterMatch } from '../../services/watcher/filters/filter.js'
import { patience } from '../helpers/patience.js'

const NOW = Date.UTC(2026, 10, 3, 12)
// 10:00:02 in Paris on 3 November 2026 (CET, UTC+1).
const AT = Date.UTC(2026, 10, 3, 9, 0, 2)
const PREFIX = 'Nov  3 10:00:02 mail postfix/smtpd[123]: '
const match = (text: string): FilterMatch | null => postfixFilter.match(text, NOW)

t.test('given the postfix SASL filter', async (t) => {
  t.equal(postfixFilter.name, 'postfix')
  t.equal(builtinFilter('postfix'), postfixFilter)
  const cases: readonly (readonly [string, FilterMatch])[] = [
    [`${PREFIX}warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`, { ip: '203.0.113.7', at: AT }],
    [`${PREFIX}warning: unknown[203.0.113.7]: SASL PLAIN authentication failed: `, { ip: '203.0.113.7', at: AT }],
    [`${PREFIX}warning: unknown[203.0.113.7]: SASL PLAIN authentication failed: authentication failure`, { ip: '203.0.113.7', at: AT }],
    [`${PREFIX}warning: unknown[203.0.113.7]: SASL CRAM-MD5 authentication failed: authentication failure`, { ip: '203.0.113.7', at: AT }],
    [`${PREFIX}warning: unknown[203.0.113.7]: SASL LOGIN authentication failed`, { ip: '203.0.113.7', at: AT }],
    [`${PREFIX}warning: host.example[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`, { ip: '203.0.113.7', at: AT }],
    [`${PREFIX}warning: unknown[2001:db8::7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`, { ip: '2001:db8::7', at: AT }],
    [`${PREFIX}warning: unknown[203.0.113.7]:51234: SASL LOGIN authentication failed: UGFzc3dvcmQ6`, { ip: '203.0.113.7', at: AT }],
    [`${PREFIX}warning: unknown[203.0.113.7]: SASL PLAIN authentication failed: authentication failure, sasl_username=alice@example.org`, { ip: '203.0.113.7', at: AT, user: 'alice@example.org' }],
    [`Nov  3 10:00:02 mail postfix/submission/smtpd[123]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`, { ip: '203.0.113.7', at: AT }],
    [`Nov  3 10:00:02 mail postfix/smtps/smtpd[123]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`, { ip: '203.0.113.7', at: AT }],
    [`Nov  3 10:00:02 mail postfix-out/smtpd[123]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\r\n`, { ip: '203.0.113.7', at: AT }],
    [`2026-11-03T10:00:02.5+01:00 mail postfix/smtpd[123]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`, { ip: '203.0.113.7', at: AT + 500 }],
  ]
  for (const [text, expected] of cases) {
    t.same(match(text), expected, `when the line is ${JSON.stringify(text)}, then it matches ${expected.ip}`)
  }
  t.test('when the line is other postfix chatter, another program or malformed, then there is no match', async (t) => {
    for (const text of [
      `${PREFIX}connect from unknown[203.0.113.7]`,
      `${PREFIX}lost connection after AUTH from unknown[203.0.113.7]`,
      `${PREFIX}NOQUEUE: reject: RCPT from unknown[203.0.113.7]: 554 5.7.1 <x@example.org>: Relay access denied; from=<a@example.org> to=<x@example.org> proto=ESMTP helo=<x>`,
      `${PREFIX}warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6 extra`.replace('failed:', 'failed!'),
      `${PREFIX}warning: unknown[attacker.example]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`,
      `${PREFIX}warning: unknown[203.0.113.7/24]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`,
      `${PREFIX}warning: unknown [203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`,
      `Nov  3 10:00:02 mail postfix/smtp[123]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`,
      `Nov  3 10:00:02 mail dovecot: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`,
      `Nov 31 10:00:02 mail postfix/smtpd[123]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`,
      `postfix/smtpd[123]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6`,
      '',
    ]) t.equal(match(text), null, text)
  })
})

t.test('given client text crafted to inject another address', async (t) => {
  const real = '203.0.113.7'
  for (const text of [
    `${PREFIX}warning: unknown[${real}]: SASL LOGIN authentication failed: unknown[198.51.100.9]: SASL LOGIN authentication failed`,
    `${PREFIX}warning: unknown[${real}]: SASL PLAIN authentication failed: authentication failure, sasl_username=x unknown[198.51.100.9] rip=198.51.100.9, client: 198.51.100.9`,
    `${PREFIX}warning: host.example[${real}]: SASL LOGIN authentication failed: , sasl_username=warning: unknown[198.51.100.9]: SASL LOGIN authentication failed`,
  ]) t.equal(match(text)?.ip, real, text)
  t.test('when the fixed prefix does not hold an address, then a later one is not taken', async (t) => {
    t.equal(match(`${PREFIX}warning: unknown[attacker.example]: SASL LOGIN authentication failed: unknown[198.51.100.9]`), null)
    t.equal(match(`${PREFIX}warning: x unknown[198.51.100.9]: SASL LOGIN authentication failed: x`), null)
  })
})

t.test('given hostile lines of 10,000 characters', async (t) => {
  const pad = (unit: string, head: string, tail = ''): string => head + unit.repeat(Math.ceil((10_000 - head.length - tail.length) / unit.length)) + tail
  for (const [i, text] of [
    pad(', sasl_username=', `${PREFIX}warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: `, '\0'),
    pad('a', `${PREFIX}warning: `),
    pad('[', `${PREFIX}warning: unknown`),
    pad('x', 'Nov  3 10:00:02 mail '),
    pad(' ', 'Nov  3 10:00:02 '),
  ].entries()) {
    let got: FilterMatch | null = null
    const start = performance.now()
    for (let k = 0; k < 10; k++) got = match(text)
    const perLine = (performance.now() - start) / 10
    t.ok(perLine < patience(50), `when hostile line #${i} (${text.length} chars) is matched, then it takes well under ${patience(50)} ms (${perLine.toFixed(3)} ms)`)
    if (i === 0) t.equal(got?.ip, '203.0.113.7', 'and the real address still matches')
    else t.equal(got, null, 'and it does not match')
  }
})
