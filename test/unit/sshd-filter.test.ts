// BSD timestamps are local time: pin the zone before any Date use.
process.env.TZ = 'UTC'

import t from 'tap'
import fc from 'fast-check'
import { performance } from 'node:perf_hooks'
import { sshdFilter, sshdSuccessFilter } from '../../services/watcher/filters/sshd.js'
import { builtinFilter, builtinFilters } from '../../services/watcher/filters/builtin.js'
import type { FilterMatch, LineFilter } from '../../services/watcher/filters/filter.js'
import { patience } from '../helpers/patience.js'

const NOW = Date.UTC(2026, 10, 2, 12)
const AT = Date.UTC(2026, 10, 2, 10, 0, 2)
const PREFIX = 'Nov  2 10:00:02 web1 sshd[4321]: '
const line = (message: string): string => PREFIX + message

type Case = readonly [message: string, expected: FilterMatch]

const match = (filter: LineFilter, text: string): FilterMatch | null => filter.match(text, NOW)

t.test('given the sshd failure filter', async (t) => {
  t.equal(sshdFilter.name, 'sshd')

  const cases: readonly Case[] = [
    ['Failed password for root from 203.0.113.7 port 4242 ssh2', { ip: '203.0.113.7', at: AT, user: 'root' }],
    ['Failed password for invalid user admin from 203.0.113.7 port 4242 ssh2', { ip: '203.0.113.7', at: AT, user: 'admin' }],
    ['Failed password for root from 2001:db8::7 port 4242 ssh2', { ip: '2001:db8::7', at: AT, user: 'root' }],
    ['Failed publickey for root from 2001:db8::7 port 4242 ssh2: RSA SHA256:AbCdEf0123+/xyzXYZ', { ip: '2001:db8::7', at: AT, user: 'root' }],
    ['Failed publickey for git from 203.0.113.7 port 4242 ssh2: ED25519-SK SHA256:AbCdEf0123', { ip: '203.0.113.7', at: AT, user: 'git' }],
    ['Failed publickey for git from 203.0.113.7 port 4242 ssh2: RSA MD5:0a:1b:2c:3d', { ip: '203.0.113.7', at: AT, user: 'git' }],
    ['Failed none for invalid user x from 203.0.113.7 port 4242 ssh2', { ip: '203.0.113.7', at: AT, user: 'x' }],
    ['Failed keyboard-interactive/pam for root from 198.51.100.20 port 4242 ssh2', { ip: '198.51.100.20', at: AT, user: 'root' }],
    ['Failed keyboard-interactive/pam for invalid user oracle from 2001:db8:1::20 port 4242 ssh2', { ip: '2001:db8:1::20', at: AT, user: 'oracle' }],
    ['Invalid user admin from 203.0.113.7 port 4242', { ip: '203.0.113.7', at: AT, user: 'admin' }],
    ['Invalid user admin from 2001:db8::7 port 4242', { ip: '2001:db8::7', at: AT, user: 'admin' }],
    ['Invalid user admin from 203.0.113.7', { ip: '203.0.113.7', at: AT, user: 'admin' }],
    ['Invalid user  from 203.0.113.7 port 4242', { ip: '203.0.113.7', at: AT }],
    ['pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=root', { ip: '203.0.113.7', at: AT, user: 'root' }],
    ['pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=2001:db8::7  user=root', { ip: '2001:db8::7', at: AT, user: 'root' }],
    ['pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7 ', { ip: '203.0.113.7', at: AT }],
    ['pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7', { ip: '203.0.113.7', at: AT }],
    ['error: maximum authentication attempts exceeded for root from 203.0.113.7 port 4242 ssh2 [preauth]', { ip: '203.0.113.7', at: AT, user: 'root' }],
    ['error: maximum authentication attempts exceeded for invalid user admin from 2001:db8::7 port 4242 ssh2 [preauth]', { ip: '2001:db8::7', at: AT, user: 'admin' }],
    ['maximum authentication attempts exceeded for root from 203.0.113.7 port 4242 ssh2', { ip: '203.0.113.7', at: AT, user: 'root' }],
    ['Disconnecting authenticating user root 203.0.113.7 port 4242: Too many authentication failures [preauth]', { ip: '203.0.113.7', at: AT, user: 'root' }],
    ['Disconnecting invalid user admin 203.0.113.7 port 4242: Too many authentication failures [preauth]', { ip: '203.0.113.7', at: AT, user: 'admin' }],
    ['Disconnecting invalid user admin 2001:db8::7 port 4242: Too many authentication failures', { ip: '2001:db8::7', at: AT, user: 'admin' }],
    ['Received disconnect from 203.0.113.7 port 4242:11: Too many authentication failures [preauth]', { ip: '203.0.113.7', at: AT }],
    ['Received disconnect from 2001:db8::7 port 4242:11: Too many authentication failures [preauth]', { ip: '2001:db8::7', at: AT }],
    ['Received disconnect from 2001:db8::7: 11: Too many authentication failures [preauth]', { ip: '2001:db8::7', at: AT }],
    ['Connection closed by authenticating user root 203.0.113.7 port 4242 [preauth]', { ip: '203.0.113.7', at: AT, user: 'root' }],
    ['Connection closed by invalid user admin 2001:db8::7 port 4242 [preauth]', { ip: '2001:db8::7', at: AT, user: 'admin' }],
    ['Connection reset by authenticating user root 203.0.113.7 port 4242 [preauth]', { ip: '203.0.113.7', at: AT, user: 'root' }],
  ]
  for (const [message, expected] of cases) {
    t.same(match(sshdFilter, line(message)), expected, `when the line is "${message}", then it matches ${expected.ip}`)
  }

  t.test('when the address is IPv4-mapped IPv6, then it is reported as IPv4', async (t) => {
    t.same(match(sshdFilter, line('Failed password for root from ::ffff:203.0.113.7 port 4242 ssh2')), { ip: '203.0.113.7', at: AT, user: 'root' })
    t.same(match(sshdFilter, line('Invalid user admin from ::ffff:203.0.113.7 port 4242'))?.ip, '203.0.113.7')
  })
  t.test('when the IPv6 address is not in canonical form, then it is canonicalised', async (t) => {
    t.equal(match(sshdFilter, line('Failed password for root from 2001:DB8:0:0::0007 port 4242 ssh2'))?.ip, '2001:db8::7')
  })
  t.test('when the address is a host name, then there is no match', async (t) => {
    t.equal(match(sshdFilter, line('Failed password for root from attacker.example.com port 4242 ssh2')), null)
    t.equal(match(sshdFilter, line('pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=attacker.example.com  user=root')), null)
  })
  t.test('when the address is not a valid address, then there is no match', async (t) => {
    for (const bad of ['203.0.113.256', '203.0.113', '0xCB.0.113.7', '2001:db8::7%eth0', '2001:db8::/32', '203.0.113.7/24', '', '\0']) {
      t.equal(match(sshdFilter, line(`Failed password for root from ${bad} port 4242 ssh2`)), null, JSON.stringify(bad))
    }
  })
  t.test('when the program is sshd-session (OpenSSH 9.8+), sshd without a PID, or sshd-auth, then it matches', async (t) => {
    const message = 'Failed password for root from 203.0.113.7 port 4242 ssh2'
    for (const program of ['sshd-session[77]', 'sshd', 'sshd-auth[78]']) {
      t.equal(match(sshdFilter, `Nov  2 10:00:02 web1 ${program}: ${message}`)?.ip, '203.0.113.7', program)
    }
  })
  t.test('when the line comes from another program, then there is no match', async (t) => {
    const message = 'Failed password for root from 203.0.113.7 port 4242 ssh2'
    for (const program of ['CRON[77]', 'sshdx[1]', 'notsshd[1]', 'sshd[]', 'sshd[12a]', 'sshd[1] ', 'sshd-sessionx[1]']) {
      t.equal(match(sshdFilter, `Nov  2 10:00:02 web1 ${program}: ${message}`), null, program)
    }
    t.equal(match(sshdFilter, `Nov  2 10:00:02 sshd[1]: ${message}`), null, 'no host name token')
  })
  t.test('when the line has an RFC 3339 timestamp, then its time is exact', async (t) => {
    t.same(match(sshdFilter, '2026-11-02T10:00:02.123456+01:00 web1 sshd[1]: Invalid user admin from 203.0.113.7 port 4242'), {
      ip: '203.0.113.7', at: Date.UTC(2026, 10, 2, 9, 0, 2, 123), user: 'admin',
    })
  })
  t.test('when the line has no parsable time, then there is no match', async (t) => {
    t.equal(match(sshdFilter, 'web1 sshd[1]: Failed password for root from 203.0.113.7 port 4242 ssh2'), null)
    t.equal(match(sshdFilter, 'Nov 31 10:00:02 web1 sshd[1]: Failed password for root from 203.0.113.7 port 4242 ssh2'), null)
  })
  t.test('when the line ends with CR or LF, then it still matches', async (t) => {
    t.equal(match(sshdFilter, line('Failed password for root from 203.0.113.7 port 4242 ssh2\r\n'))?.ip, '203.0.113.7')
  })
  t.test('when the line is a success or unrelated sshd chatter, then there is no match', async (t) => {
    for (const message of [
      'Accepted password for alice from 203.0.113.7 port 4242 ssh2',
      'Connection closed by 203.0.113.7 port 4242 [preauth]',
      'Received disconnect from 203.0.113.7 port 4242:11: Bye Bye [preauth]',
      'Disconnected from user alice 203.0.113.7 port 4242',
      'Postponed publickey for alice from 203.0.113.7 port 4242 ssh2 [preauth]',
      'Server listening on 0.0.0.0 port 22.',
      'pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)',
      'PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=root',
      'Failed password for root from 203.0.113.7 port 4242 ssh2 extra',
      'Failed password for root from 203.0.113.7 port 4242',
      'Failed password for root from 203.0.113.7 port ssh2',
      'Failed publickey for root from 203.0.113.7 port 4242 ssh2: RSA-CERT SHA256:abc ID key1 (serial 1) CA RSA SHA256:def',
      'Invalid user admin from 203.0.113.7 port 4242 extra',
      'Disconnecting invalid user admin 203.0.113.7 port 4242: Bye',
    ]) {
      t.equal(match(sshdFilter, line(message)), null, message)
    }
  })
  t.test('when the user name is long, then it is cut to 64 characters', async (t) => {
    const long = 'u'.repeat(100)
    t.equal(match(sshdFilter, line(`Failed password for invalid user ${long} from 203.0.113.7 port 4242 ssh2`))?.user, 'u'.repeat(64))
    const astral = 'u'.repeat(63) + '\u{1F600}' + 'v'
    t.equal(match(sshdFilter, line(`Invalid user ${astral} from 203.0.113.7 port 4242`))?.user, 'u'.repeat(63), 'never half a surrogate pair')
  })
})

t.test('given the sshd success filter', async (t) => {
  t.equal(sshdSuccessFilter.name, 'sshd-success')
  const cases: readonly Case[] = [
    ['Accepted password for alice from 203.0.113.7 port 4242 ssh2', { ip: '203.0.113.7', at: AT, user: 'alice' }],
    ['Accepted publickey for alice from 2001:db8::7 port 22 ssh2: ED25519 SHA256:AbCdEf0123+/xyz', { ip: '2001:db8::7', at: AT, user: 'alice' }],
    ['Accepted publickey for alice from 203.0.113.7 port 22 ssh2: ED25519-CERT SHA256:abc ID alice@corp (serial 7) CA ED25519 SHA256:def', { ip: '203.0.113.7', at: AT, user: 'alice' }],
    ['Accepted keyboard-interactive/pam for bob from 198.51.100.20 port 4242 ssh2', { ip: '198.51.100.20', at: AT, user: 'bob' }],
    ['Accepted gssapi-with-mic for bob from ::ffff:198.51.100.20 port 4242 ssh2', { ip: '198.51.100.20', at: AT, user: 'bob' }],
  ]
  for (const [message, expected] of cases) {
    t.same(match(sshdSuccessFilter, line(message)), expected, `when the line is "${message}", then it matches ${expected.ip}`)
  }
  t.test('when the line is a failure, then the success filter does not match it', async (t) => {
    t.equal(match(sshdSuccessFilter, line('Failed password for alice from 203.0.113.7 port 4242 ssh2')), null)
    t.equal(match(sshdSuccessFilter, line('Invalid user alice from 203.0.113.7 port 4242')), null)
  })
  t.test('when the address is a host name, then there is no match', async (t) => {
    t.equal(match(sshdSuccessFilter, line('Accepted password for alice from host.example.com port 4242 ssh2')), null)
  })
})

t.test('given user names crafted to inject another address', async (t) => {
  const real = '203.0.113.7'
  const injected: readonly [filter: LineFilter, message: string][] = [
    [sshdFilter, `Failed password for root from 198.51.100.9 port 22 ssh2 from ${real} port 4242 ssh2`],
    [sshdFilter, `Failed password for x from 198.51.100.9 from ${real} port 4242 ssh2`],
    [sshdFilter, `Failed password for invalid user root from 198.51.100.9 port 22 ssh2 from ${real} port 4242 ssh2`],
    [sshdFilter, `Failed password for invalid user x from 198.51.100.9 port 22 ssh2: RSA SHA256:abc from ${real} port 4242 ssh2`],
    [sshdFilter, `Failed publickey for x from 198.51.100.9 port 22 ssh2 from ${real} port 4242 ssh2: RSA SHA256:abc`],
    [sshdFilter, `Failed password for x from 2001:db8::9 port 22 ssh2 from ${real} port 4242 ssh2`],
    [sshdFilter, `Invalid user x from 198.51.100.9 from ${real} port 4242`],
    [sshdFilter, `Invalid user x from 198.51.100.9 port 22 from ${real} port 4242`],
    [sshdFilter, `Invalid user x from 198.51.100.9 port 22 from ${real}`],
    [sshdFilter, `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=${real}  user=x from 198.51.100.9 port 22 ssh2`],
    [sshdFilter, `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=rhost=198.51.100.9 rhost=${real}  user=root`],
    [sshdFilter, `error: maximum authentication attempts exceeded for x from 198.51.100.9 port 22 ssh2 [preauth] from ${real} port 4242 ssh2 [preauth]`],
    [sshdFilter, `Disconnecting invalid user x 198.51.100.9 port 22: Too many authentication failures [preauth] ${real} port 4242: Too many authentication failures [preauth]`],
    [sshdFilter, `Disconnecting authenticating user x 198.51.100.9 port 22: ${real} port 4242: Too many authentication failures [preauth]`],
    [sshdFilter, `Connection closed by invalid user x 198.51.100.9 port 22 [preauth] ${real} port 4242 [preauth]`],
    [sshdFilter, `Connection closed by authenticating user x 198.51.100.9 port 22 ${real} port 4242 [preauth]`],
  ]
  for (const [filter, message] of injected) {
    t.equal(match(filter, line(message))?.ip, real, `when the line is "${message}", then the address is the real one`)
  }

  t.test('when the real address is not an address, then the injected one is not taken instead', async (t) => {
    t.equal(match(sshdFilter, line('Failed password for x from 198.51.100.9 port 22 ssh2 from attacker.example port 4242 ssh2')), null)
    t.equal(match(sshdFilter, line('Invalid user x from 198.51.100.9 port 22 from attacker.example port 4242')), null)
    t.equal(match(sshdFilter, line('Disconnecting invalid user x 198.51.100.9 port 22: Too many authentication failures [preauth] attacker.example port 4242: Too many authentication failures [preauth]')), null)
  })
  t.test('when the pam ruser field carries a fake rhost and user, then there is no match rather than a wrong one', async (t) => {
    // Read left to right this is ruser=x, rhost=<fake>, user=`y rhost=<real>  user=root`:
    // the text alone cannot tell, so a user holding ` rhost=` is refused.
    t.equal(match(sshdFilter, line(`pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=x rhost=198.51.100.9  user=y rhost=${real}  user=root`)), null)
  })
  t.test('when the pam user holds " rhost=", then there is no match (sshd\'s own Failed line still counts)', async (t) => {
    t.equal(match(sshdFilter, line(`pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=${real}  user=root rhost=198.51.100.9`)), null)
    t.equal(match(sshdFilter, line(`pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=${real}  user=x  user=y rhost=198.51.100.9 `)), null)
    t.equal(match(sshdFilter, line(`Failed password for root rhost=198.51.100.9 from ${real} port 4242 ssh2`))?.ip, real)
  })
  t.test('when a certificate key id (client text after the address) imitates a tail, then there is no match', async (t) => {
    t.equal(match(sshdFilter, line(`Failed publickey for root from ${real} port 4242 ssh2: RSA-CERT SHA256:abc ID x from 198.51.100.9 port 22 ssh2: (serial 1) CA RSA SHA256:def`)), null)
  })
  t.test('when a success line carries an injected user name, then the success filter does not match', async (t) => {
    t.equal(match(sshdSuccessFilter, line(`Accepted password for x from 198.51.100.9 port 22 ssh2 from ${real} port 4242 ssh2`)), null)
  })

  t.test('when user names are built from tail-like fragments (property), then the address is always the real one', async (t) => {
    const fragment = fc.oneof(
      fc.constantFrom(' from ', ' port ', ' ssh2', ': ', ' [preauth]', ' user=', ' rhost=', '  ', ' invalid user ',
        '198.51.100.9', '2001:db8::9', '22', ': RSA SHA256:abc', ':11: Too many authentication failures', ': Too many authentication failures',
        '\n', '\r', '\0', '\u2028', '\uFFFD'),
      fc.string({ maxLength: 4 }),
    )
    const userName = fc.array(fragment, { maxLength: 12 }).map((parts) => parts.join(''))
    const templates: readonly ((user: string) => string)[] = [
      (u) => `Failed password for ${u} from ${real} port 4242 ssh2`,
      (u) => `Failed password for invalid user ${u} from ${real} port 4242 ssh2`,
      (u) => `Failed publickey for ${u} from ${real} port 4242 ssh2: RSA SHA256:AbC+/0`,
      (u) => `Invalid user ${u} from ${real} port 4242`,
      (u) => `Invalid user ${u} from ${real}`,
      (u) => `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=${real}  user=${u}`,
      (u) => `error: maximum authentication attempts exceeded for invalid user ${u} from ${real} port 4242 ssh2 [preauth]`,
      (u) => `Disconnecting invalid user ${u} ${real} port 4242: Too many authentication failures [preauth]`,
      (u) => `Connection closed by authenticating user ${u} ${real} port 4242 [preauth]`,
    ]
    const PAM = 5
    fc.assert(fc.property(userName, fc.nat(templates.length - 1), (user, k) => {
      const template = templates[k]
      if (template === undefined) return false
      const got = match(sshdFilter, line(template(user)))
      // The one refusal: a pam user= holding ` rhost=` (see above).
      if (got === null) return k === PAM && user.includes(' rhost=')
      return got.ip === real
    }), { numRuns: 20_000 })
    fc.assert(fc.property(userName, (user) => {
      const got = match(sshdSuccessFilter, line(`Accepted password for ${user} from ${real} port 4242 ssh2`))
      return got === null || got.ip === real
    }), { numRuns: 5_000 })
    t.pass('no counterexample')
  })
})

t.test('given hostile lines of 10,000 characters', async (t) => {
  const pad = (unit: string, head: string, tail = ''): string => head + unit.repeat(Math.ceil((10_000 - head.length - tail.length) / unit.length)) + tail
  const hostile: readonly string[] = [
    pad(' from 1', line('Failed password for ')),
    pad(' from 198.51.100.9 port 22', line('Failed password for '), ' ssh'),
    pad(' from a port 1 ssh2', line('Failed password for invalid user '), ' from'),
    pad(' from ', line('Invalid user x'), ' from 203.0.113.7 port x'),
    pad('a ', line('Disconnecting invalid user '), 'port 1: Too many'),
    pad(' port 1', line('Connection closed by authenticating user '), ' [preauth'),
    pad('x', line('pam_unix(sshd:auth): authentication failure; logname='), ' uid=0'),
    pad(' user=198.51.100.9', line('pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=')),
    pad(' rhost=198.51.100.9', line('pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=')),
    pad('9', line('Received disconnect from 203.0.113.7 port ')),
    pad('/', line('Failed ')),
    pad('x', line('Accepted password for ')),
    pad(' ', 'Nov  2 10:00:02 '),
    pad('Nov  2 10:00:02 ', ''),
    pad('\0', ''),
    pad('\uFFFD', PREFIX),
  ]
  for (const [i, text] of hostile.entries()) {
    for (const filter of [sshdFilter, sshdSuccessFilter]) {
      let got: FilterMatch | null = null
      const start = performance.now()
      for (let k = 0; k < 10; k++) got = filter.match(text, NOW)
      const perLine = (performance.now() - start) / 10
      t.ok(perLine < patience(50), `when hostile line #${i} (${text.length} chars) goes through ${filter.name}, then it takes well under ${patience(50)} ms (${perLine.toFixed(3)} ms)`)
      if (i === 7 && filter === sshdFilter) t.equal(got?.ip, '203.0.113.7', 'and the pam line with a huge user still matches its rhost')
      else t.equal(got, null, 'and it does not match')
    }
  }
})

t.test('given garbage lines', async (t) => {
  t.test('when any string goes through both filters (property), then they never throw', async (t) => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
      const results = [
        sshdFilter.match(text, NOW),
        sshdFilter.match(PREFIX + text, NOW),
        sshdSuccessFilter.match(PREFIX + text, NOW),
      ]
      // Random text almost never forms a failure line; when it does, the
      // address it yields is a real one.
      return results.every((got) => got === null || (typeof got.ip === 'string' && got.ip.length > 0 && got.at === AT))
    }), { numRuns: 5_000 })
    t.pass('no counterexample')
  })
  t.test('when the line is empty, NULs, or only a prefix, then there is no match', async (t) => {
    for (const text of ['', '\0'.repeat(300), PREFIX, PREFIX + '\0', PREFIX.replace('sshd', 'ssh\0')]) {
      t.equal(sshdFilter.match(text, NOW), null)
      t.equal(sshdSuccessFilter.match(text, NOW), null)
    }
  })
})

t.test('given the built-in filter registry', async (t) => {
  t.test('when sshd and sshd-success are looked up, then the filters are returned', async (t) => {
    t.equal(builtinFilter('sshd'), sshdFilter)
    t.equal(builtinFilter('sshd-success'), sshdSuccessFilter)
    t.same([...builtinFilters.keys()].sort(), ['apache-auth', 'apache-badbots', 'dovecot', 'nginx-http-auth', 'postfix', 'sshd', 'sshd-success'])
  })
  t.test('when an unknown name is looked up, then undefined', async (t) => {
    t.equal(builtinFilter('no-such-filter'), undefined)
    t.equal(builtinFilter('__proto__'), undefined)
  })
})
