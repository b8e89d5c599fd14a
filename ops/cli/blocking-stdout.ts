// Standard output written with blocking writes, for a command whose loop
// never returns to the event loop (filter-test). process.stdout queues what
// a pipe cannot take at once and reports a closed pipe later, both in the
// event loop: a loop that never yields to it would queue its whole output
// in memory behind a slow reader, and never learn that `| head` has gone.
// Here each write waits until the pipe took it all (back-pressure: memory
// stays bounded), and a reader that went away ends the output at once.
import { writeSync } from 'node:fs'

/** The reader of standard output went away (EPIPE): nothing is left to say. */
export class OutputClosed extends Error {
  override readonly name = 'OutputClosed'
}

/** How long to wait before trying a full pipe again (ms). */
const RETRY_MS = 1
const pause = new Int32Array(new SharedArrayBuffer(4))

/** Writes all of `bytes` to fd 1, waiting while the pipe is full (a pipe
 *  that Node made non-blocking answers EAGAIN). Throws OutputClosed on EPIPE. */
export function writeStdout(bytes: Uint8Array): void {
  let done = 0
  while (done < bytes.length) {
    try {
      done += writeSync(1, bytes, done, bytes.length - done)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EPIPE') throw new OutputClosed('standard output is closed')
      if (code !== 'EAGAIN') throw err
      Atomics.wait(pause, 0, 0, RETRY_MS)
    }
  }
}
