// A reader that goes away (`banledger ... | head -1`) ends a command's
// output quietly: exit 0, no EPIPE trace. filter-test, whose loop never
// returns to the event loop, writes with blocking writes and stops at once
// (ops/cli/blocking-stdout.ts); the other commands drop the rest of their
// output and end as they would have (ops/cli/main.ts).
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { BIN, sshdLine, tempDir, writeConfig } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait-for.js'

/** Runs the CLI with `args` and closes its standard output after the first line, as `head -1` does. */
async function headOne(t: Test, args: readonly string[]): Promise<{ code: number | null; err: string; first: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGKILL') })
  let out = ''
  let err = ''
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
    if (out.includes('\n')) child.stdout.destroy()
  })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  await waitFor(() => child.stderr.readableEnded || child.stderr.destroyed, { what: 'stderr read to the end' })
  return { code, err, first: out.split('\n')[0] ?? '' }
}

t.test('given filter-test over 200,000 failures, when the reader closes the pipe after the first line', async t => {
  const dir = await tempDir(t)
  const log = join(dir, 'big.log')
  await writeFile(log, Array.from({ length: 200_000 }, (_, i) => `fail from 192.0.2.${i % 250} attempt ${i}\n`).join(''))
  for (const mode of [[], ['--one-thread']]) {
    const r = await headOne(t, ['filter-test', ...mode, '--json', log, 'fail from <HOST> attempt'])
    t.equal(r.code, 0, `${mode.join(' ') || 'two threads'}: exit 0`)
    t.equal(r.err, '', 'nothing on stderr')
    t.match(r.first, /^\{"line":1,"host":"192\.0\.2\.0"/, 'the first line was written')
  }
})

t.test('given simulate with 3,000 bans to print, when the reader closes the pipe after the first line', async t => {
  const dir = await tempDir(t)
  const { config } = await writeConfig(dir)
  const log = join(dir, 'auth.log')
  const lines: string[] = []
  for (let i = 0; i < 3000; i++) {
    for (let k = 0; k < 3; k++) lines.push(sshdLine(new Date(Date.UTC(2026, 10, 2, 10, 0, k)), `Failed password for root from 198.51.${i >> 8}.${i & 255} port 4242 ssh2`))
  }
  await writeFile(log, lines.join(''))
  const r = await headOne(t, ['simulate', '--json', '--config', config, log])
  t.equal(r.code, 0, 'exit 0')
  t.equal(r.err, '', 'nothing on stderr')
  t.match(r.first, /^\{"type":"ban"/, 'the first decision was written')
})
