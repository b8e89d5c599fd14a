// A log read and dated by a second thread (dating-worker.ts), for a filter
// that runs in this one: the chunks of text come from that thread, the date
// of each line with them, in the lines' order. This thread then runs only
// what depends on the failregexes; the two work at once (filter-test on
// the bench's 1,000,000-line log).
//
// This thread takes batches synchronously (receiveMessageOnPort, and
// Atomics.wait while none is there): the filter's loop never returns to the
// event loop.
import { StringDecoder } from 'node:string_decoder'
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads'
import type { LineDater } from '../../../services/watcher/fail2ban/date-detector.js'
import { PER_LINE, POSTED, TAKEN, type Batch, type DatingJob } from './dating-job.js'

/** The worker's module, compiled beside this one in dist/ (filter-test
 *  runs from there; tsx, which runs the sources in tests, does not load
 *  TypeScript in worker threads, so tests reach this through the binary). */
const WORKER = new URL('./dating-worker.js', import.meta.url)
/** A batch takes milliseconds; this long without one, the worker is gone. */
const STALL_MS = 120_000

export class DatedLog implements LineDater {
  readonly #worker: Worker
  readonly #port: MessagePort
  readonly #counters: Int32Array
  readonly #cannotRead: (err: Error) => Error
  readonly #ready: Promise<void>
  #taken = 0
  /** The current batch's dates, and the next line's place in them. */
  #dates: Float64Array = new Float64Array(0)
  #at = 0
  #used: ReadonlyMap<string, number> = new Map()
  time = NaN
  matchStart = 0
  matchEnd = 0

  private constructor(worker: Worker, port: MessagePort, counters: Int32Array, cannotRead: (err: Error) => Error) {
    this.#worker = worker
    this.#port = port
    this.#counters = counters
    this.#cannotRead = cannotRead
    this.#ready = new Promise((resolve, reject) => {
      worker.once('message', () => resolve())
      worker.once('error', reject)
      worker.once('exit', (code) => reject(new Error(`filter-test: the dating thread exited (${code}) before it started`)))
    })
    this.#ready.catch(() => {}) // reported by ready()
  }

  /** Resolves once the worker runs (it loaded its modules), or rejects with why it could not. */
  ready(): Promise<void> {
    return this.#ready
  }

  /** Starts the worker on `path` (await ready() before reading);
   *  `cannotRead` makes the error of a failed read. */
  static start(path: string, datepattern: string | null, now: number, cannotRead: (err: Error) => Error): DatedLog {
    const { port1, port2 } = new MessageChannel()
    const counters = new SharedArrayBuffer(8)
    const job: DatingJob = { path, datepattern, now, port: port2, counters }
    const worker = new Worker(WORKER, { workerData: job, transferList: [port2] })
    return new DatedLog(worker, port1, new Int32Array(counters), cannotRead)
  }

  /** The file's text, a chunk at a time, as the worker read it. */
  *chunks(): Generator<string> {
    const utf8 = new StringDecoder('utf8')
    for (;;) {
      const batch = this.#next()
      if (batch.kind === 'error') {
        const err = new Error(batch.message)
        throw batch.read ? this.#cannotRead(err) : err
      }
      this.#dates = batch.dates
      this.#at = 0
      if (batch.kind === 'end') {
        this.#used = new Map(batch.used)
        yield utf8.end()
        return
      }
      yield utf8.write(batch.bytes)
    }
  }

  find(_line: string, _now: number): number {
    const at = this.#at
    if (at + PER_LINE > this.#dates.length) throw new Error('filter-test: the dating thread is out of step with the lines')
    this.#at = at + PER_LINE
    const d = this.#dates
    this.matchStart = d[at + 1] as number
    this.matchEnd = d[at + 2] as number
    this.time = d[at + 3] as number
    return d[at] as number
  }

  get used(): ReadonlyMap<string, number> {
    return this.#used
  }

  /** Stops the worker (at the end, or after a failure). */
  async close(): Promise<void> {
    this.#port.close()
    await this.#worker.terminate()
  }

  #next(): Batch {
    const counters = this.#counters
    for (;;) {
      const got = receiveMessageOnPort(this.#port)
      if (got !== undefined) {
        if (this.#at !== this.#dates.length) throw new Error('filter-test: the dating thread is out of step with the lines')
        this.#taken++
        Atomics.store(counters, TAKEN, this.#taken)
        Atomics.notify(counters, TAKEN)
        return got.message as Batch
      }
      // Until the worker has posted one more than taken (a batch posted but
      // not yet counted makes the wait return at once: looked for again).
      if (Atomics.wait(counters, POSTED, this.#taken, STALL_MS) === 'timed-out') {
        throw new Error(`filter-test: the dating thread sent nothing for ${STALL_MS / 1000} s`)
      }
    }
  }
}
