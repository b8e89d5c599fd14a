// Wait for a condition with a named timeout, instead of sleeping and hoping.
import { patience } from './patience.js'

export type WaitForOptions = Readonly<{
  /** Names what is awaited; it is in the timeout error. */
  what: string
  /** Give up after this many ms on a quiet machine (scaled by PATIENCE,
   *  patience.ts). Default 5000. */
  timeout?: number
  /** Check this often, in ms. Default 10. */
  interval?: number
}>

/** Polls `cond` (sync or async) until it returns a truthy value, and
 *  resolves with that value. A throwing `cond` counts as "not yet" (so an
 *  assertion can be the condition); the last such error is the timeout
 *  error's `cause`. Rejects with an Error naming `what` on timeout. */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  opts: WaitForOptions,
): Promise<NonNullable<T>> {
  const timeout = patience(opts.timeout ?? 5000)
  const interval = opts.interval ?? 10
  const deadline = Date.now() + timeout
  let lastError: unknown
  while (true) {
    try {
      const value = await cond()
      if (value) return value as NonNullable<T>
      lastError = undefined
    } catch (err) {
      lastError = err
    }
    if (Date.now() >= deadline) {
      const message = `timed out after ${timeout} ms waiting for ${opts.what}`
      throw lastError === undefined ? new Error(message) : new Error(message, { cause: lastError })
    }
    await new Promise((resolve) => setTimeout(resolve, interval))
  }
}
