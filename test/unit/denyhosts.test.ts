// DenyHosts wrote its dates in local time: pin the zone before any Date use.
process.env.TZ = 'Europe/Paris'

import t from 'tap'
import { parseHostsDeny } from '../../ops/import/denyhosts.js'

const NOW = Date.UTC(2025, 0, 1)

t.test('the seed line: comment and rule make one entry with the comment date', async (t) => {
  const result = parseHostsDeny(
    '# DenyHosts: Sun Oct 19 08:19:25 2014 | sshd: 222.186.56.49\nsshd: 222.186.56.49\n',
    { now: NOW },
  )
  // 08:19:25 in Paris on 19 October 2014 is summer time (UTC+2): 06:19:25 UTC.
  t.same(result, {
    entries: [{ line: 2, ip: '222.186.56.49', bannedAt: 1413699565000 }],
    skipped: [],
  })
  t.equal(result.entries[0]?.bannedAt, Date.UTC(2014, 9, 19, 6, 19, 25))
})

t.test('a space-padded day in winter time', async (t) => {
  const { entries } = parseHostsDeny('# DenyHosts: Sun Jan  5 08:00:00 2014 | sshd: 198.51.100.9\nsshd: 198.51.100.9', { now: NOW })
  t.same(entries, [{ line: 2, ip: '198.51.100.9', bannedAt: Date.UTC(2014, 0, 5, 7, 0, 0) }])
})

t.test('plain rules without a DenyHosts comment have no date', async (t) => {
  const { entries, skipped } = parseHostsDeny([
    '# /etc/hosts.deny: list of hosts that are _not_ allowed to access the system.',
    '#',
    '',
    'sshd: 203.0.113.5',
    'ALL: 203.0.113.6',
    '   sshd :203.0.113.7   ',
    'sshd, vsftpd: 203.0.113.8',
    'sshd: 203.0.113.5',
  ].join('\r\n'), { now: NOW })
  t.same(entries, [
    { line: 4, ip: '203.0.113.5', bannedAt: null },
    { line: 5, ip: '203.0.113.6', bannedAt: null },
    { line: 6, ip: '203.0.113.7', bannedAt: null },
    { line: 7, ip: '203.0.113.8', bannedAt: null },
  ], 'each address once; ordinary comments and blank lines ignored')
  t.same(skipped, [])
})

t.test('IPv6, bracketed or not, is canonical', async (t) => {
  const { entries, skipped } = parseHostsDeny([
    '# DenyHosts: Sun Oct 19 08:19:25 2014 | sshd: [2001:DB8:0::7]',
    'sshd: [2001:DB8:0::7]',
    'sshd: 2001:db8::8',
    'sshd: [::ffff:192.0.2.1]',
    'sshd: [2001:db8::/32]',
  ].join('\n'), { now: NOW })
  t.same(entries, [
    { line: 2, ip: '2001:db8::7', bannedAt: 1413699565000 },
    { line: 3, ip: '2001:db8::8', bannedAt: null },
    { line: 4, ip: '192.0.2.1', bannedAt: null },
  ])
  t.same(skipped, [{ line: 5, text: 'sshd: [2001:db8::/32]', why: 'not a single address: "2001:db8::/32"' }])
})

t.test('rules for other daemons are skipped, naming the daemon', async (t) => {
  const { entries, skipped } = parseHostsDeny([
    '# DenyHosts: Sun Oct 19 08:19:25 2014 | vsftpd: 192.0.2.10',
    'vsftpd: 192.0.2.10',
    'in.telnetd, portmap: 192.0.2.11',
    'ALL EXCEPT sshd: 192.0.2.12',
  ].join('\n'), { now: NOW })
  t.same(entries, [])
  t.same(skipped, [
    { line: 2, text: 'vsftpd: 192.0.2.10', why: 'rule for another daemon than sshd or ALL: "vsftpd"' },
    { line: 3, text: 'in.telnetd, portmap: 192.0.2.11', why: 'rule for another daemon than sshd or ALL: "in.telnetd, portmap"' },
    { line: 4, text: 'ALL EXCEPT sshd: 192.0.2.12', why: 'daemon list with EXCEPT: not imported' },
  ])
})

t.test('rules that do not name a single address are skipped', async (t) => {
  const lines = ['sshd: badhost.example.com', 'sshd: .example.com', 'sshd: 192.168.', 'sshd: PARANOID', 'ALL: ALL',
    'sshd: 192.0.2.1 192.0.2.2', 'sshd: 10.0.0.0/255.0.0.0', 'sshd: 010.000.000.001', 'sshd: fe80::1%eth0']
  const { entries, skipped } = parseHostsDeny(lines.join('\n'), { now: NOW })
  t.same(entries, [])
  t.equal(skipped.length, lines.length)
  lines.forEach((text, index) => {
    t.match(skipped[index], { line: index + 1, text, why: /^not a single address: "/ }, text)
  })
  t.equal(skipped[0]?.why, 'not a single address: "badhost.example.com"')
  t.equal(skipped[4]?.why, 'not a single address: "ALL"')
})

t.test('garbage is skipped with a reason and never throws', async (t) => {
  const long = `sshd: ${'x'.repeat(500)}`
  const { entries, skipped } = parseHostsDeny([
    'this is not a rule',
    ': 192.0.2.1',
    'sshd: 192.0.2.2 : allow',
    'sshd: [2001:db8::1] : spawn echo hi',
    'sshd: [2001:db8::1',
    long,
    'sshd: 192.0.2.3',
  ].join('\n'), { now: NOW })
  t.same(entries, [{ line: 7, ip: '192.0.2.3', bannedAt: null }])
  t.match(skipped, [
    { line: 1, why: /not a hosts\.deny rule/ },
    { line: 2, why: /no daemon/ },
    { line: 3, why: 'rule with an option or command ("allow"): not imported' },
    { line: 4, why: 'rule with an option or command ("spawn echo hi"): not imported' },
    { line: 5, why: /^not a single address/ },
    { line: 6, why: /^not a single address/ },
  ])
  t.equal(skipped[5]?.text.length, 120, 'text truncated to 120 characters')

  for (const input of ['', '\n\n\n', '\0\0\0', ':', '[', '#', 'sshd:', 'sshd: []', '\\', 'sshd: 1.2.3.4 \\', '\uFFFF'.repeat(1000), 'a:b:c:d:'.repeat(1000)]) {
    t.doesNotThrow(() => parseHostsDeny(input, { now: NOW }), JSON.stringify(input.slice(0, 20)))
  }
})

t.test('DenyHosts dates: unreadable ones reported, future ones clamped, later comments win', async (t) => {
  const { entries, skipped } = parseHostsDeny([
    '# DenyHosts: Sun Feb 30 08:19:25 2014 | sshd: 192.0.2.20',
    'sshd: 192.0.2.20',
    '# DenyHosts: Fri Jan  1 00:00:00 2100 | sshd: 192.0.2.21',
    'sshd: 192.0.2.21',
    '# DenyHosts: Sun Oct 19 08:19:25 2014 | sshd: 192.0.2.22',
    '# DenyHosts: Sun Jan  5 08:00:00 2014 | sshd: 192.0.2.22',
    'sshd: 192.0.2.22',
    '# DenyHosts: Sun Oct 19 08:19:25 2014 | sshd: 192.0.2.23',
    '# a comment for an address with no rule is not a ban',
  ].join('\n'), { now: NOW })
  t.same(entries, [
    { line: 2, ip: '192.0.2.20', bannedAt: null },
    { line: 4, ip: '192.0.2.21', bannedAt: NOW },
    { line: 7, ip: '192.0.2.22', bannedAt: Date.UTC(2014, 0, 5, 7, 0, 0) },
  ])
  t.same(skipped, [{
    line: 1,
    text: '# DenyHosts: Sun Feb 30 08:19:25 2014 | sshd: 192.0.2.20',
    why: 'DenyHosts date not understood: "Sun Feb 30 08:19:25 2014"; the rule for 192.0.2.20 gets no date',
  }])
})

t.test('a rule continued with a backslash is one logical line', async (t) => {
  const { entries, skipped } = parseHostsDeny('sshd: \\\n  192.0.2.30\nsshd: 192.0.2.31', { now: NOW })
  t.same(entries, [{ line: 1, ip: '192.0.2.30', bannedAt: null }, { line: 3, ip: '192.0.2.31', bannedAt: null }])
  t.same(skipped, [])
})

t.test('long lines stay fast', async (t) => {
  const start = performance.now()
  parseHostsDeny(`# DenyHosts:${' '.repeat(200_000)}x\n${'sshd:'.repeat(50_000)}\nsshd: ${' '.repeat(200_000)}:`, { now: NOW })
  t.ok(performance.now() - start < 1000, 'linear in the line length')
})
