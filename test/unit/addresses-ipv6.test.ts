// canonicalAddress's hand-written IPv6 path (plainIpv6, ledger/rules/
// addresses.ts) gives what the URL parser (ipv6ByUrl) gives, for every text
// it answers; the rest it leaves to the URL parser.
import fc from 'fast-check'
import t from 'tap'
import { canonicalAddress, ipv6ByUrl, plainIpv6 } from '../../ledger/rules/addresses.js'

const same = (text: string): boolean => {
  const fast = plainIpv6(text)
  const slow = text.includes('.') && !text.includes(':') ? canonicalAddress(text) : ipv6ByUrl(text)
  return (fast === undefined || fast === slow) && canonicalAddress(text) === slow
}

t.test('known forms', async t => {
  const cases: [string, string | undefined][] = [
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8::0001', '2001:db8::1'],
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:db8:1:2:3::1', '2001:db8:1:2:3::1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    ['1::', '1::'],
    ['::', '::'],
    ['::1', '::1'],
    ['::ffff:cb00:7107', '203.0.113.7'],
    ['0:0:0:0:0:ffff:0:0', '0.0.0.0'],
    ['::ffff:0:0:0', '::ffff:0:0:0'],
    // left to the URL parser
    ['::ffff:203.0.113.7', undefined],
    ['1:2:3:4::5:6:7:8', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['00001::', undefined],
    [':1::', undefined],
    ['1::2::3', undefined],
    [':::1', undefined],
    ['1:', undefined],
    ['fe80::1%eth0', undefined],
    ['203.0.113.7', undefined],
    ['', undefined],
  ]
  for (const [text, want] of cases) {
    t.equal(plainIpv6(text), want, text)
    t.ok(same(text), `${text}: as the URL parser`)
  }
})

t.test('as the URL parser on generated addresses and near misses', async t => {
  const group = fc.stringMatching(/^[0-9a-fA-F]{1,5}$/)
  const full = fc.array(fc.oneof(group, fc.constant('0'), fc.constant('0000')), { minLength: 6, maxLength: 9 })
  const text = fc.oneof(
    full.map(g => g.join(':')),
    fc.tuple(full, fc.nat(9)).map(([g, at]) => [...g.slice(0, at), '', ...g.slice(at)].join(':').replace(/^:(?!:)|:$/, '::')),
    fc.tuple(full, fc.nat(9), fc.nat(9)).map(([g, a, b]) => {
      const parts = g.slice(0, Math.min(a, b)).join(':') + '::' + g.slice(Math.max(a, b)).join(':')
      return parts
    }),
    fc.stringMatching(/^[0-9a-fA-F:.]{0,41}$/),
  )
  fc.assert(fc.property(text, s => same(s)), { numRuns: 20_000 })
  t.pass('20,000 texts')
})
