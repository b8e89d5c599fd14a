// Output lines gathered into a 64 KiB buffer and written when it is full.
// filter-test --json prints a line per failure (600,000 on the bench's
// 1,000,000-line log). Kept as strings until a join every 1,000 lines, they
// outlived V8's scavenges: about 100 of 10-20 ms each on that log
// (--trace-gc), against about 3 ms each once each line was copied into
// bytes at once. A number is written as digits (int()): its text through
// String() or a template goes into V8's number-to-string cache, which keeps
// it alive past scavenges as well (on that log: scavenges 606 ms -> 107 ms
// in all, and no mark-compact instead of 9). ASCII text is copied by
// hand: Buffer#write costs about 130 ns a call (argument checks, a call
// into C++), more than copying a short line's characters.

const SIZE = 1 << 16

export class LineWriter {
  private readonly buf = Buffer.allocUnsafe(SIZE)
  private used = 0
  /** `write` must be done with the chunk when it returns (blocking-stdout.ts's
   *  writeStdout is): the buffer is filled again at once. */
  constructor(private readonly write: (chunk: Buffer) => void) {}

  /** Adds `line` and a newline. */
  line(line: string): void {
    this.text(line)
    this.end()
  }

  /** Adds `s` to the current line. */
  text(s: string): void {
    const most = s.length * 3 // UTF-8 bytes at most
    if (this.used + most > SIZE) {
      this.flush()
      if (most > SIZE) {
        this.write(Buffer.from(s))
        return
      }
    }
    const buf = this.buf
    let at = this.used
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) {
        this.used = at + buf.write(i === 0 ? s : s.slice(i), at)
        return
      }
      buf[at++] = c
    }
    this.used = at
  }

  /** Adds `bytes` (made once, e.g. Buffer.from(constant)) to the current line. */
  bytes(bytes: Uint8Array): void {
    if (this.used + bytes.length > SIZE) {
      this.flush()
      if (bytes.length > SIZE) {
        this.write(Buffer.from(bytes))
        return
      }
    }
    const buf = this.buf
    let at = this.used
    for (let i = 0; i < bytes.length; i++) buf[at++] = bytes[i] as number
    this.used = at
  }

  /** Adds `s` as a JSON string: JSON.stringify(s), without making that
   *  string when `s` is printable ASCII without a quote or backslash (then
   *  copied in the same pass that checks it). */
  json(s: string): void {
    const n = s.length
    if (this.used + n + 2 > SIZE) this.flush()
    if (n + 2 <= SIZE) {
      const buf = this.buf
      let at = this.used
      buf[at++] = 0x22
      let i = 0
      for (; i < n; i++) {
        const c = s.charCodeAt(i)
        if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) break
        buf[at++] = c
      }
      if (i === n) {
        buf[at++] = 0x22
        this.used = at
        return
      }
      // not plain: what was copied is not counted, and is written over
    }
    this.text(JSON.stringify(s))
  }

  /** Adds the decimal digits of `n`, a non-negative safe integer. */
  int(n: number): void {
    if (this.used + 16 > SIZE) this.flush()
    let digits = 1
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++
    let x = n
    for (let k = this.used + digits - 1; k >= this.used; k--) {
      this.buf[k] = 48 + (x % 10)
      x = Math.floor(x / 10)
    }
    this.used += digits
  }

  /** Adds the decimal digits of `n`, an integer in [0, 10 ** width),
   *  zero-padded to `width` (String(n).padStart(width, '0')). */
  padded(n: number, width: number): void {
    if (this.used + width > SIZE) this.flush()
    let x = n
    for (let k = this.used + width - 1; k >= this.used; k--) {
      this.buf[k] = 48 + (x % 10)
      x = Math.floor(x / 10)
    }
    this.used += width
  }

  /** Ends the current line. */
  end(): void {
    if (this.used + 1 > SIZE) this.flush()
    this.buf[this.used++] = 10
  }

  /** Writes out what the buffer holds. */
  flush(): void {
    if (this.used === 0) return
    this.write(this.buf.subarray(0, this.used))
    this.used = 0
  }
}
