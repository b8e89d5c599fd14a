// Logs what the bus drops (forged host claims, garbage), throttled (see
// ../../log-throttle.ts). The text shown of a subject is bounded; it may
// come from anyone.
import type { Logger } from 'pino'
import { LogThrottle } from '../../log-throttle.js'

export class RejectLog {
  readonly #logger: Logger
  readonly #throttle = new LogThrottle()

  constructor(logger: Logger) {
    this.#logger = logger
  }

  /** Logs (or counts) one dropped message (or event of a batch). */
  note(subject: string, why: string): void {
    const shown = subject.slice(0, 200)
    if (this.#throttle.allow(held => this.#logger.warn({ bus: { dropped: held } }, 'bus: %d more messages dropped', held))) {
      this.#logger.warn({ bus: { subject: shown, why } }, 'bus: dropped a message on %s: %s', shown, why)
    }
  }
}
