// Address parsing and ignore lists (R9): one address, one text form.
import t from 'tap'
import { AddressSet, canonicalAddress, parseRange } from '../../ledger/rules/addresses.js'

t.test('canonical text of IPv4 and IPv6 addresses', async t => {
  const cases: [string, string | null][] = [
    ['203.0.113.7', '203.0.113.7'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['256.1.1.1', null],
    ['010.0.0.1', null], // octal to ipaddr.js and inet_aton: refused
    ['1.2.3', null],
    ['0x7f.0.0.1', null],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8::0001', '2001:db8::1'],
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::ffff:cb00:7107', '203.0.113.7'],
    ['fe80::1%eth0', null],
    ['::1]:80/x?[', null],
    ['2001:db8::/64', null],
    ['192.0.2.0/24', null],
    ['', null],
    [' 192.0.2.1', null],
    ['192.0.2.1 ', null],
    ['x'.repeat(10_000), null],
    ['1:2:3:4:5:6:7:8:9', null],
    ['example.com', null],
  ]
  for (const [text, want] of cases) t.equal(canonicalAddress(text), want, JSON.stringify(text.slice(0, 40)))
})

t.test('ranges and sets, IPv4 and IPv6', async t => {
  t.equal(parseRange('192.168.1.0/33'), null)
  t.equal(parseRange('2001:db8::/129'), null)
  t.equal(parseRange('10.0.0.0/8x'), null)
  const s = new AddressSet(['127.0.0.1/8', '192.168.1.0/24', '203.0.113.128/25', '::1', '2001:db8:aa::/48', '198.51.100.7'])
  const yes = ['127.0.0.1', '127.255.255.255', '192.168.1.0', '192.168.1.255', '203.0.113.128', '203.0.113.255', '::1', '2001:db8:aa::', '2001:db8:aa:ffff::1', '198.51.100.7']
  const no = ['128.0.0.1', '192.168.2.0', '192.168.0.255', '203.0.113.127', '::2', '2001:db8:ab::1', '198.51.100.8']
  for (const ip of yes) t.ok(s.has(ip), `${ip} in the set`)
  for (const ip of no) t.notOk(s.has(ip), `${ip} not in the set`)
  t.ok(new AddressSet(['0.0.0.0/0']).has('198.51.100.1'), '/0 covers everything')
  t.notOk(new AddressSet(['0.0.0.0/0']).has('01.2.3.4'), 'text that is not a canonical address is in no range')
  const high = new AddressSet(['255.255.255.255', '203.0.113.9/32'])
  t.ok(high.has('255.255.255.255') && high.has('203.0.113.9'), 'single addresses with the top bit set')
  t.notOk(high.has('203.0.113.10') || high.has('127.255.255.255'), 'and only them')
  t.throws(() => new AddressSet(['192.168.1.300/24']), TypeError)
})
