// ProjectionMap keys canonical IPv4 text by its 32-bit value and any other
// text by the string: the two kinds of rows must behave as one Map.
import fc from 'fast-check'
import t from 'tap'
import { addressKey, addressText, dottedQuad, dottedQuadAt } from '../../ledger/rules/addresses.js'
import { ProjectionMap } from '../../ledger/store/projection-map.js'

/** The key of an IPv4 address; null when the text is keyed by itself. */
function ipv4Key(ip: string): number | null {
  const k = addressKey(ip)
  return typeof k === 'number' ? k : null
}

t.test('addressKey keys canonical dotted quads by value, any other text by itself', async t => {
  t.equal(ipv4Key('0.0.0.0'), 0)
  t.equal(ipv4Key('192.0.2.1'), (192 << 24) | (2 << 8) | 1)
  t.equal(ipv4Key('255.255.255.255'), -1)
  for (const other of ['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.00', '256.1.1.1', '1.2.3.4 ', ' 1.2.3.4', '1..2.3',
    '1.2.3.', '.1.2.3', '1.2.3.a', '::ffff:1.2.3.4', '2001:db8::1', '1.2.3.1000', '1111.2.3.4', 'host.example']) {
    t.equal(ipv4Key(other), null, JSON.stringify(other))
  }
})

t.test('dottedQuadAt reads the UTF-8 bytes of a text as dottedQuad reads the text', async t => {
  const text = fc.oneof(fc.ipV4(), fc.ipV6(), fc.string(), fc.string({ unit: 'binary', maxLength: 16 }),
    fc.string({ unit: fc.constantFrom('0', '1', '2', '5', '9', '.', '٣', '\u{ff10}'), maxLength: 16 }))
  fc.assert(fc.property(text, fc.string({ maxLength: 3 }), (s, pad) => {
    const bytes = new TextEncoder().encode(pad + s + pad)
    const start = new TextEncoder().encode(pad).length
    return dottedQuadAt(bytes, start, bytes.length - start) === dottedQuad(s)
  }))
  t.pass('property holds')
})

t.test('addressText gives back the text of every key', async t => {
  fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), k => ipv4Key(addressText(k)) === k))
  fc.assert(fc.property(fc.ipV4(), ip => addressText(ipv4Key(ip) as number) === ip))
  t.pass('properties hold')
})

t.test('given rows of both kinds, when they are set, replaced and deleted, then the map agrees with a plain Map', async t => {
  const ops = fc.array(fc.tuple(
    fc.constantFrom('set', 'upsert', 'delete'),
    fc.constantFrom('ssh', 'web'),
    fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('01.2.3.4', '192.0.2.1', '2001:db8::1')),
    fc.nat(),
  ), { maxLength: 200 })
  fc.assert(fc.property(ops, list => {
    const map = new ProjectionMap<number>()
    const model = new Map<string, number>()
    for (const [op, jail, ip, value] of list) {
      const key = `${jail}/${ip}`
      if (op === 'set') {
        map.set(jail, ip, value)
        model.set(key, value)
      } else if (op === 'upsert') {
        const row = map.upsertAt(jail, addressKey(ip), () => value)
        if (!model.has(key)) model.set(key, value)
        if (row !== model.get(key)) return false
      } else {
        if (value % 2 === 0) map.delete(jail, ip)
        else map.deleteAt(jail, addressKey(ip))
        model.delete(key)
      }
      if (map.size !== model.size || map.get(jail, ip) !== model.get(key) || map.getAt(jail, addressKey(ip)) !== model.get(key) || map.getKey(key) !== model.get(key)) return false
    }
    const listed = [...map].sort(([a], [b]) => a.localeCompare(b))
    const expected = [...model].sort(([a], [b]) => a.localeCompare(b))
    return JSON.stringify(listed) === JSON.stringify(expected) && [...map.values()].length === model.size
  }))
  t.pass('property holds')
})
