// A log file as filter-test reads it: text in chunks, cut into lines as
// readline and Python's universal newlines cut them. One implementation for
// the thread that runs the filter and the one that dates the lines
// (dating-worker.ts): both must see the same lines.
import { readSync } from 'node:fs'
import { StringDecoder } from 'node:string_decoder'

/** Longer lines are cut here before a filter sees them. */
export const MAX_LINE = 64 * 1024
/** Bytes per read: a string over about 128 KiB goes to V8's large-object
 *  space, freed only by a full GC, so 1 MiB chunks piled up (RSS grew with
 *  the file); 64 KiB chunks die young with the lines cut from them. */
export const CHUNK_BYTES = 1 << 16

/** The line onLine() was given: without its \n, cut at MAX_LINE. */
export const lineText = (raw: string, nl: boolean): string => {
  const length = nl ? raw.length - 1 : raw.length
  return length > MAX_LINE ? raw.slice(0, MAX_LINE) : nl ? raw.slice(0, length) : raw
}

/** Reads `fd` into `bytes` from where it stands; 0 at the end. Errors go
 *  through `cannotRead`. Synchronous: a read stream's async iteration (a
 *  promise and stream bookkeeping per chunk) cost 7% of the CPU time of a
 *  loop over the bench's 1,000,000-line log, and a reader has nothing else
 *  to do. */
export function readChunk(fd: number, bytes: Uint8Array, cannotRead: (err: unknown) => Error): number {
  try {
    return readSync(fd, bytes, 0, bytes.length, null)
  } catch (err) {
    throw cannotRead(err)
  }
}

/** The text of file `fd` in chunks of CHUNK_BYTES. */
export function* chunks(fd: number, cannotRead: (err: unknown) => Error): Generator<string> {
  const bytes = Buffer.allocUnsafe(CHUNK_BYTES)
  const utf8 = new StringDecoder('utf8') // a character split across two reads
  for (let n = readChunk(fd, bytes, cannotRead); n > 0; n = readChunk(fd, bytes, cannotRead)) yield utf8.write(bytes.subarray(0, n))
  yield utf8.end()
}

export type OnLine = (line: string, nl: boolean) => void

/** Cuts text pushed a chunk at a time into lines: at \n, \r\n or a lone \r;
 *  a last line without its newline counts (end()). A line ended by a lone
 *  \n comes with it (`nl` true), the others without their ending. */
export class LineSplitter {
  private rest = ''
  private skipLF = false

  push(chunk: string, onLine: OnLine): void {
    let text = this.rest + chunk
    if (this.skipLF && text.charCodeAt(0) === 10) text = text.slice(1)
    this.skipLF = false
    let start = 0
    if (!text.includes('\r')) {
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        onLine(text.slice(start, nl + 1), true)
        start = nl + 1
      }
    } else {
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i)
        if (c !== 10 && c !== 13) continue
        onLine(text.slice(start, i), false)
        if (c === 13) {
          if (i + 1 === text.length) this.skipLF = true
          else if (text.charCodeAt(i + 1) === 10) i++
        }
        start = i + 1
      }
    }
    // What follows the last line end: the start of a line. Kept to
    // MAX_LINE + 1 characters (no line end among them): a line is used up
    // to MAX_LINE only (lineText), and one line of a log without line ends
    // made each chunk copy all of it again (a 20 MB line took 4 s).
    this.rest = text.length - start > MAX_LINE + 1 ? text.slice(start, start + MAX_LINE + 1) : text.slice(start)
  }

  /** The last line, if the text did not end with a line end. */
  end(onLine: OnLine): void {
    if (this.rest !== '') onLine(this.rest, false)
    this.rest = ''
  }
}

/** Calls `onLine` for each line of `chunks` (see LineSplitter). */
export function eachLine(chunks: Iterable<string>, onLine: OnLine): void {
  const lines = new LineSplitter()
  for (const chunk of chunks) lines.push(chunk, onLine)
  lines.end(onLine)
}
