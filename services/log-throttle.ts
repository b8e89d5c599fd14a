// At most a few log lines per interval for a kind of event that an attacker
// or a broken host can repeat at will (dropped messages, skewed clocks): a
// flood of bad input must not become a flood of logs. What is held back is
// counted and said once the interval is over.
const WINDOW = 10_000
const PER_WINDOW = 20

export class LogThrottle {
  readonly #now: () => number
  #windowStart = -Infinity
  #logged = 0
  #held = 0

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  /** Whether to log this one. `onHeld` hears, once a window is over, how
   *  many were held back in it. */
  allow(onHeld: (held: number) => void): boolean {
    const t = this.#now()
    if (t - this.#windowStart >= WINDOW) {
      if (this.#held > 0) onHeld(this.#held)
      this.#windowStart = t
      this.#logged = 0
      this.#held = 0
    }
    if (this.#logged >= PER_WINDOW) {
      this.#held++
      return false
    }
    this.#logged++
    return true
  }
}
