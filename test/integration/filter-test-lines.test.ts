// filter-test splits lines as readline and Python's universal newlines do
// (\n, \r\n, a lone \r; a last line without newline), across read chunks.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { cli, tempDir } from '../helpers/cli.js'

const jsonLines = (stdout: string): { line: number; host: string }[] =>
  stdout.split('\n').filter(Boolean).map(l => JSON.parse(l) as { line: number; host: string })

t.test('line ends: \\n, \\r\\n, lone \\r, none at the end; numbers follow them', async t => {
  const dir = await tempDir(t)
  const log = join(dir, 'mixed.log')
  await writeFile(log, 'fail from 192.0.2.1\r\nfail from 192.0.2.2\rfail from 192.0.2.3\n\nfail from 192.0.2.5')
  const r = await cli(['filter-test', '--json', log, 'fail from <HOST>$'])
  t.equal(r.code, 0, r.stderr)
  t.same(jsonLines(r.stdout).map(l => [l.line, l.host]), [[1, '192.0.2.1'], [2, '192.0.2.2'], [3, '192.0.2.3'], [5, '192.0.2.5']])
})

t.test('a \\r\\n split across two read chunks is one line end', async t => {
  const dir = await tempDir(t)
  const log = join(dir, 'big.log')
  const line = `${'z'.repeat(2000)} fail from 192.0.2.9` // long lines: few matches to print
  const at = (1 << 20) - 1 // the last byte of the first chunk: the \r goes there
  const k = Math.floor((at - line.length - 200) / (line.length + 1))
  const pad = at - line.length - k * (line.length + 1) - 1
  await writeFile(log, `${line}\n`.repeat(k) + `${'y'.repeat(pad)}\n${line}\r\n${line}\n`)
  const r = await cli(['filter-test', '--json', log, 'fail from <HOST>$'])
  t.equal(r.code, 0, r.stderr)
  const numbers = jsonLines(r.stdout).map(l => l.line)
  t.equal(numbers.length, k + 2, 'every matching line')
  t.same(numbers.slice(-2), [k + 2, k + 3], 'the line after the split \r\n is the next one: no empty line between')
})

t.test('a line far longer than the cap (64 KiB) is cut, and the lines after it keep their numbers', async t => {
  const dir = await tempDir(t)
  const log = join(dir, 'long.log')
  // 3 MB without a line end: many read chunks of one line
  await writeFile(log, `fail from 192.0.2.1 ${'x'.repeat(3_000_000)} from 198.51.100.1\nfail from 192.0.2.2 x\r${'y'.repeat(200_000)}\rfail from 192.0.2.4 x`)
  for (const mode of [[], ['--one-thread']]) {
    const r = await cli(['filter-test', ...mode, '--json', log, '^fail from <HOST> x'])
    t.equal(r.code, 0, r.stderr)
    t.same(jsonLines(r.stdout).map(l => [l.line, l.host]), [[1, '192.0.2.1'], [2, '192.0.2.2'], [4, '192.0.2.4']],
      `${mode.join(' ') || 'two threads'}: the long line matched on its first 64 KiB, the others numbered as written`)
  }
})
