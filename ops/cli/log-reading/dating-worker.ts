// filter-test's second thread: reads the log, cuts it into lines and finds
// each line's date with the filter's date detector, a fifth of the work per
// line that does not depend on the failregexes (fail2ban dates a line before
// it looks for a failure, and the detector's state follows the lines alone).
// It hands the file's bytes on with the dates, so that the filter's thread
// sees exactly the text that was dated (dated-log.ts).
import { openSync } from 'node:fs'
import { StringDecoder } from 'node:string_decoder'
import { parentPort, workerData } from 'node:worker_threads'
import { DateDetector } from '../../../services/watcher/fail2ban/date-detector.js'
import { AHEAD, PER_LINE, POSTED, TAKEN, type Batch, type DatingJob } from './dating-job.js'
import { CHUNK_BYTES, LineSplitter, lineText, readChunk } from './log-lines.js'

const job = workerData as DatingJob
parentPort?.postMessage('ready') // its modules are loaded (DatedLog.ready)
const counters = new Int32Array(job.counters)
let posted = 0

/** Posts `batch`, first waiting while AHEAD batches are not taken. */
function post(batch: Batch, transfer: ArrayBuffer[]): void {
  for (let taken = Atomics.load(counters, TAKEN); posted - taken >= AHEAD; taken = Atomics.load(counters, TAKEN)) {
    Atomics.wait(counters, TAKEN, taken)
  }
  job.port.postMessage(batch, transfer)
  posted++
  Atomics.store(counters, POSTED, posted)
  Atomics.notify(counters, POSTED)
}

/** A failure to open or read the log (the filter's thread reports it as its own cannotRead). */
const readError = (err: unknown): Error => Object.assign(new Error((err as Error).message), { read: true })

let dates = new Float64Array(new ArrayBuffer(PER_LINE * 1024 * 8))
let count = 0
/** The dates found since the last batch, in a buffer of their own (transferred). */
function taken(): Float64Array<ArrayBuffer> {
  const out = dates.slice(0, count * PER_LINE)
  count = 0
  return out
}

try {
  const detector = new DateDetector(job.datepattern)
  const onLine = (raw: string, nl: boolean): void => {
    const kind = detector.find(lineText(raw, nl), job.now)
    if ((count + 1) * PER_LINE > dates.length) {
      const bigger = new Float64Array(new ArrayBuffer(dates.length * 2 * 8))
      bigger.set(dates)
      dates = bigger
    }
    const at = count++ * PER_LINE
    dates[at] = kind
    dates[at + 1] = detector.matchStart
    dates[at + 2] = detector.matchEnd
    dates[at + 3] = detector.time
  }
  let fd: number
  try {
    fd = openSync(job.path, 'r')
  } catch (err) {
    throw readError(err)
  }
  const utf8 = new StringDecoder('utf8')
  const lines = new LineSplitter()
  for (;;) {
    const bytes = new Uint8Array(new ArrayBuffer(CHUNK_BYTES)) // transferred with its batch: a new one each time
    const n = readChunk(fd, bytes, readError)
    if (n === 0) break
    const chunk = bytes.subarray(0, n)
    lines.push(utf8.write(chunk), onLine)
    const d = taken()
    post({ kind: 'chunk', bytes: chunk, dates: d }, [bytes.buffer, d.buffer])
  }
  lines.push(utf8.end(), onLine)
  lines.end(onLine)
  const d = taken()
  post({ kind: 'end', dates: d, used: [...detector.used] }, [d.buffer])
} catch (err) {
  post({ kind: 'error', message: (err as Error).message, read: (err as { read?: boolean }).read === true }, [])
}
