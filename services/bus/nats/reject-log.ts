// Logs what the bus drops (forged host claims, garbage), at most a few lines
// per interval: a flood of bad messages must not become a flood of logs.
// The text shown of a subject is bounded; it may come from anyone.
import type { Logger } from 'pino'

const WINDOW = 10_000
const PER_WINDOW = 20

export class RejectLog {
  readonly #logger: Logger
  #windowStart = 0
  #logged = 0
  #suppressed = 0

  constructor(logger: Logger) {
    this.#logger = logger
  }

  /** Logs (or counts) one dropped message; returns null for the caller's convenience. */
  note(subject: string, why: string): null {
    const now = Date.now()
    if (now - this.#windowStart >= WINDOW) {
      if (this.#suppressed > 0) this.#logger.warn({ bus: { dropped: this.#suppressed } }, 'bus: %d more messages dropped', this.#suppressed)
      this.#windowStart = now
      this.#logged = 0
      this.#suppressed = 0
    }
    if (this.#logged >= PER_WINDOW) {
      this.#suppressed++
      return null
    }
    this.#logged++
    this.#logger.warn({ bus: { subject: subject.slice(0, 200), why } }, 'bus: dropped a message on %s: %s', subject.slice(0, 200), why)
    return null
  }
}
