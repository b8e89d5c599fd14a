// The wait between two attempts of a loop that talks to NATS: 250 ms,
// doubling up to 10 s, back to 250 ms after a success; a stop cuts it short.
const MIN = 250
const MAX = 10_000

export class Backoff {
  #ms = MIN
  #cut: (() => void) | null = null

  /** The next wait, in ms (for the log line that announces it). */
  get ms(): number {
    return this.#ms
  }

  reset(): void {
    this.#ms = MIN
  }

  /** Waits the current delay (or until cut()), then doubles it. */
  async sleep(): Promise<void> {
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, this.#ms)
      this.#cut = () => { clearTimeout(timer); resolve() }
    })
    this.#cut = null
    this.#ms = Math.min(this.#ms * 2, MAX)
  }

  /** Ends a sleep in progress now. */
  cut(): void {
    this.#cut?.()
  }
}
