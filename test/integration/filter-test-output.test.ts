// filter-test writes its output with blocking writes (ops/cli/blocking-stdout.ts):
// a reader that goes away (`| head`) ends the run at once and quietly.
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { BIN, tempDir } from '../helpers/cli.js'
import { waitFor } from '../helpers/wait-for.js'

const line = (i: number): string => `fail from 192.0.2.${i % 250} attempt ${i}\n`

t.test('given a log of 200,000 failures, when the reader closes the pipe after the first line', async t => {
  const dir = await tempDir(t)
  const log = join(dir, 'big.log')
  await writeFile(log, Array.from({ length: 200_000 }, (_, i) => line(i)).join(''))
  for (const mode of [[], ['--one-thread']]) {
    const child = spawn(process.execPath, [BIN, 'filter-test', ...mode, '--json', log, 'fail from <HOST> attempt'], { stdio: ['ignore', 'pipe', 'pipe'] })
    t.teardown(() => { child.kill('SIGKILL') })
    let out = ''
    let err = ''
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) child.stdout.destroy() // as `head -1` does
    })
    const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
    await waitFor(() => child.stderr.readableEnded || child.stderr.destroyed, { what: 'stderr read to the end' })
    t.equal(code, 0, `${mode.join(' ') || 'two threads'}: exit 0`)
    t.equal(err, '', 'nothing on stderr (no EPIPE trace)')
    t.match(out.split('\n')[0], /^\{"line":1,"host":"192\.0\.2\.0"/, 'the first line was written')
  }
})
