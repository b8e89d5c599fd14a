// The port's promise: deliver() resolves, never rejects. A throw inside a
// channel is a bug (building the message, a template...), and the same
// message would throw again: it becomes `failed`, with a redacted reason.
import type { Channel, DeliveryResult } from '../channel.js'

export function neverRejects(redact: (text: string) => string, deliver: Channel['deliver']): Channel['deliver'] {
  return async (notices, opts): Promise<DeliveryResult> => {
    try {
      return await deliver(notices, opts)
    } catch (err) {
      const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
      return { status: 'failed', reason: redact(`a bug in the channel: ${why}`) }
    }
  }
}
