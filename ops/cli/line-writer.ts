// Output lines gathered into a 64 KiB buffer and written when it is full.
// filter-test --json prints a line per failure (600,000 on the bench's
// 1,000,000-line log). Kept as strings until a join every 1,000 lines, they
// outlived V8's scavenges: about 100 of 10-20 ms each on that log
// (--trace-gc), against about 3 ms each now that each line's string is
// copied into bytes at once and dies young.

const SIZE = 1 << 16

export class LineWriter {
  private buf = Buffer.allocUnsafe(SIZE)
  private used = 0
  constructor(private readonly write: (chunk: Buffer) => void) {}

  /** Adds `line` and a newline. */
  line(line: string): void {
    const most = line.length * 3 + 1 // UTF-8 bytes at most
    if (this.used + most > SIZE) {
      this.flush()
      if (most > SIZE) {
        this.write(Buffer.from(`${line}\n`))
        return
      }
    }
    this.used += this.buf.write(line, this.used)
    this.buf[this.used++] = 10
  }

  /** Writes out what the buffer holds; a new buffer takes its place (the
   *  written one may still be queued by the stream). */
  flush(): void {
    if (this.used === 0) return
    this.write(this.buf.subarray(0, this.used))
    this.buf = Buffer.allocUnsafe(SIZE)
    this.used = 0
  }
}
