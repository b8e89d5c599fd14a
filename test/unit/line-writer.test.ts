// LineWriter (ops/cli/line-writer.ts): lines come out whole, in order, each
// ended by a newline, across buffer boundaries and for lines larger than
// the buffer. Our own fixtures.
import t from 'tap'
import { LineWriter } from '../../ops/cli/line-writer.js'

t.test('given lines of every size, then the bytes written are the lines, each with a newline', async (t) => {
  const chunks: Buffer[] = []
  const w = new LineWriter((c) => chunks.push(Buffer.from(c)))
  const lines = ['a', 'é€😀', '', 'x'.repeat(30_000), 'y'.repeat(70_000), ...Array.from({ length: 5000 }, (_, i) => `line ${i}`)]
  for (const l of lines) w.line(l)
  w.flush()
  w.flush()
  t.equal(Buffer.concat(chunks).toString('utf8'), lines.map((l) => `${l}\n`).join(''))
  t.ok(chunks.every((c) => c.length > 0), 'no empty writes')
})

t.test('given lines written in pieces, then numbers as their decimal digits', async (t) => {
  const chunks: Buffer[] = []
  const w = new LineWriter((c) => chunks.push(Buffer.from(c)))
  const numbers = [0, 7, 10, 99, 100, 65_535, 1_000_000, Number.MAX_SAFE_INTEGER, ...Array.from({ length: 20_000 }, (_, i) => i * 7919)]
  for (const n of numbers) {
    w.text('{"n":')
    w.int(n)
    w.text('}')
    w.end()
  }
  w.flush()
  t.equal(Buffer.concat(chunks).toString('utf8'), numbers.map((n) => `{"n":${n}}\n`).join(''))
})

t.test('given text with non-ASCII after ASCII and strings written as JSON, then the bytes are their UTF-8 and JSON.stringify', async (t) => {
  const chunks: Buffer[] = []
  const w = new LineWriter((c) => chunks.push(Buffer.from(c)))
  const texts = ['abc é€😀 def', 'x'.repeat(100) + 'ü', '2001:db8::1', 'a"b', 'back\\slash', 'tab\there', '\u007f', 'ünï', '', ...Array.from({ length: 30_000 }, (_, i) => `user${i}é`)]
  for (const s of texts) {
    w.text(s)
    w.text(' ')
    w.json(s)
    w.end()
  }
  w.flush()
  t.equal(Buffer.concat(chunks).toString('utf8'), texts.map((s) => `${s} ${JSON.stringify(s)}\n`).join(''))
})

t.test('given constant bytes and JSON strings across buffer boundaries, then the bytes are theirs and JSON.stringify', async (t) => {
  const chunks: Buffer[] = []
  const w = new LineWriter((c) => chunks.push(Buffer.from(c)))
  const open = Buffer.from('{"s":')
  const texts = ['plain', 'x'.repeat(65_534), 'y'.repeat(65_535), 'q"'.repeat(40_000), 'z'.repeat(70_000) + '\n', ...Array.from({ length: 20_000 }, (_, i) => (i % 7 === 0 ? `u"${i}` : `user${i}`))]
  for (const s of texts) {
    w.bytes(open)
    w.json(s)
    w.bytes(Buffer.from('}'))
    w.end()
  }
  w.bytes(Buffer.alloc(70_000, 0x61))
  w.end()
  w.flush()
  t.equal(Buffer.concat(chunks).toString('utf8'), texts.map((s) => `{"s":${JSON.stringify(s)}}\n`).join('') + 'a'.repeat(70_000) + '\n')
})

t.test('given numbers written zero-padded across buffer boundaries, then each is String(n).padStart(width, "0")', async (t) => {
  const chunks: Buffer[] = []
  const w = new LineWriter((c) => chunks.push(Buffer.from(c)))
  let want = ''
  for (let i = 0; i < 30_000; i++) {
    const width = 1 + (i % 4)
    const n = (i * 7919) % 10 ** width
    w.text('x')
    w.padded(n, width)
    w.end()
    want += `x${String(n).padStart(width, '0')}\n`
  }
  w.flush()
  t.equal(Buffer.concat(chunks).toString('utf8'), want)
})
