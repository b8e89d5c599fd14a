// What a publish of inputs becomes on NATS. The log events of one publish
// (a watcher's one read of a log) go out as LogEventBatch messages, one per
// events subject (host and jail), in log order, so the stream stores, the
// ledger receives and acknowledges, and nats-server handles one message for
// up to MAX_EVENTS events instead of one each (measured: most of the CPU per
// event on every side was per message). Operator commands and imports go
// out one LedgerInput each on the commands subject.
//
// Message ids: a one-event batch carries the event's id (and is byte for
// byte the LedgerInput of earlier watchers); a larger one an id made of the
// ids it holds. A line read again in a batch of the same events is stored
// once by the duplicate window; in a batch cut differently it is stored
// again, and the ledger's idempotency index, keyed by each event's own id,
// drops it.
import { createHash } from 'node:crypto'
import type { BusInput, LogEvent } from '../../../ledger/rules/types.js'
import { encodeInput, encodeLogEventBatch } from '../../../proto/wire.js'
import type { Outgoing } from './batch-publish.js'
import type { NatsNames } from './nats-names.js'

/** Events per message at most (a read hands over up to 1,000 lines). */
const MAX_EVENTS = 1000
/** Bytes per message at most (by sizeBound: ASCII events are a third of it), half nats-server's default max_payload (1 MiB). */
const MAX_BYTES = 512 * 1024

/** An upper bound of `e`'s encoded size: each UTF-16 unit at most 3 bytes, plus tags and numbers. */
const sizeBound = (e: LogEvent): number =>
  3 * (e.id.length + e.jail.length + e.ip.length + e.host.length + e.source.length + (e.user?.length ?? 0)) + 64

/** The Nats-Msg-Id of a batch holding the events with `ids`, in order. */
export function batchMsgId(ids: readonly string[]): string {
  if (ids.length === 1) return ids[0] as string
  // Each id and a newline, hashed in one call (2,000 calls per full batch
  // cost more than the hashing).
  const hash = createHash('sha256').update(`${ids.join('\n')}\n`)
  return `${ids[0] as string}+${ids.length - 1}:${hash.digest('base64url').slice(0, 22)}`
}

/** The messages that carry `inputs`; `host`'s commands subject for what is not a log event. */
export function outgoingOf(inputs: readonly BusInput[], names: NatsNames, host: string): Outgoing[] {
  const out: Outgoing[] = []
  const open = new Map<string, { events: LogEvent[]; bytes: number }>()
  const flush = (subject: string, events: readonly LogEvent[]): void => {
    out.push({ subject, data: encodeLogEventBatch(events), msgID: batchMsgId(events.map(e => e.id)), ack: true })
  }
  // The subject of the last host and jail seen: a publish is mostly one of each.
  let lastHost: string | undefined
  let lastJail: string | undefined
  let subject = ''
  for (const input of inputs) {
    if (input.type !== 'log') {
      out.push({ subject: names.commands(host), data: encodeInput(input), msgID: input.id, ack: true })
      continue
    }
    if (input.host !== lastHost || input.jail !== lastJail) {
      lastHost = input.host
      lastJail = input.jail
      subject = names.events(input.host, input.jail)
    }
    const size = sizeBound(input)
    let batch = open.get(subject)
    if (batch !== undefined && (batch.events.length === MAX_EVENTS || batch.bytes + size > MAX_BYTES)) {
      flush(subject, batch.events)
      batch = undefined
    }
    if (batch === undefined) open.set(subject, batch = { events: [], bytes: 0 })
    batch.events.push(input)
    batch.bytes += size
  }
  for (const [subject, batch] of open) flush(subject, batch.events)
  return out
}
