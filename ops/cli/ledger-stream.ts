// The ledger stream on NATS, read by `banledger events` and `replay
// --from-bus` on a fleet. A module of its own, imported when a command
// reads the stream: NATS's client is for fleet hosts only.
import { connect, type NatsConnection } from 'nats'
import type { LedgerEntry } from '../../ledger/rules/types.js'
import { entrySeq, forEachEntry } from '../../proto/ledger-chunk.js'
import { decodeEntry } from '../../proto/wire.js'
import type { NatsBusConfig } from '../../services/bus/bus-config.js'
import { connectionOptions } from '../../services/bus/nats/nats-connect.js'
import { natsNames } from '../../services/bus/nats/nats-names.js'
import { CodedError } from '../../services/coded-error.js'
import type { CliIO } from './command.js'

/** How long a probe of one stream message waits for it. */
const PROBE_WAIT = 5000

/** The ledger stream on NATS cannot be read as it must (no server, no
 *  stream, a message that is not the entry it should be...). */
export class LedgerStreamError extends CodedError<'BANLEDGER_LEDGER_STREAM'> {
  override readonly name = 'LedgerStreamError'
  constructor(message: string, options?: { cause?: unknown }) {
    super('BANLEDGER_LEDGER_STREAM', message, options)
  }
}

export type StreamState = Readonly<{ first: number; last: number; messages: number }>

/** One entry of a stream message: its ledger sequence and encoded bytes. */
export type StreamEntry = Readonly<{ seq: number; bytes: Uint8Array }>

export type LedgerStream = Readonly<{
  /** <PREFIX>_LEDGER. */
  name: string
  /** False while no ledger has published (the stream is missing). */
  exists(): Promise<boolean>
  /** The stream's first and last sequence and message count, now (stream
   *  sequences: a message holds one entry or more). */
  info(): Promise<StreamState>
  /** The message at stream sequence `seq` (or the next one held); null when there is none. */
  probe(seq: number): Promise<Readonly<{ seq: number; data: Uint8Array }> | null>
  /** The stored messages from stream sequence `from` on, in order: up to
   *  `until`, or (null) on as they come, until `signal` aborts. An ordered consumer. */
  read(from: number, until: number | null, signal?: AbortSignal): AsyncGenerator<Readonly<{ seq: number; data: Uint8Array }>>
  /** The entries message `seq` holds (a LedgerChunk, or one LedgerEntry
   *  from before chunks); LedgerStreamError when it holds none. */
  entries(seq: number, data: Uint8Array): StreamEntry[]
  /** The entry `e` of message `seq`, decoded; LedgerStreamError when it is not that entry. */
  decode(seq: number, e: StreamEntry): LedgerEntry
  close(): Promise<void>
}>

/** Connects to NATS as `bus.nats` says (credentials, TLS, this host's inbox
 *  prefix) to read the ledger stream. Without `follow` a connection lost
 *  for good fails the command; with it, reconnection goes on for ever and
 *  is told on stderr. */
export async function openLedgerStream(
  nats: NatsBusConfig, host: string, io: CliIO, opts: Readonly<{ follow: boolean; purpose: string }>,
): Promise<LedgerStream> {
  const name = natsNames(nats).streams.ledger
  const options = await connectionOptions(nats, { host, name: `banledger ${opts.purpose} @${host}`, env: io.env })
  let nc: NatsConnection
  try {
    nc = await connect({ ...options, waitOnFirstConnect: false, ...(opts.follow ? {} : { maxReconnectAttempts: 10 }) })
  } catch (err) {
    throw new LedgerStreamError(`cannot connect to NATS (${nats.servers.join(', ')}): ${(err as Error).message}`, { cause: err })
  }
  if (opts.follow) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') io.err(`${opts.purpose}: lost the NATS connection (${String(s.data)}); reconnecting`)
        else if (s.type === 'reconnect') io.err(`${opts.purpose}: NATS connection back (${String(s.data)})`)
      }
    })()
  }
  const js = nc.jetstream()
  const missing = (err: unknown): boolean => /stream not found/i.test((err as Error).message)
  const failed = (what: string, err: unknown): LedgerStreamError => new LedgerStreamError(
    missing(err)
      ? `there is no stream ${name} on NATS: no ledger has published on this bus (bus.nats.stream_prefix: ${nats.streamPrefix})`
      : `${what} ${name}: ${(err as Error).message}`, { cause: err })
  const entries = (seq: number, data: Uint8Array): StreamEntry[] => {
    const out: StreamEntry[] = []
    try {
      forEachEntry(data, (start, end) => out.push({ seq: entrySeq(data, start, end), bytes: data.subarray(start, end) }))
    } catch (err) {
      throw new LedgerStreamError(`message ${seq} of ${name} holds no ledger entries: ${(err as Error).message}`, { cause: err })
    }
    if (out.length === 0) throw new LedgerStreamError(`message ${seq} of ${name} is empty: it holds no ledger entries`)
    return out
  }
  const decode = (seq: number, e: StreamEntry): LedgerEntry => {
    let entry: LedgerEntry
    try {
      entry = decodeEntry(e.bytes)
    } catch (err) {
      throw new LedgerStreamError(`message ${seq} of ${name} holds an entry that is not a LedgerEntry: ${(err as Error).message}`, { cause: err })
    }
    if (entry.seq !== e.seq) throw new LedgerStreamError(`message ${seq} of ${name}: entry ${e.seq} decodes as entry ${entry.seq}`)
    return entry
  }

  const info = async (): Promise<StreamState> => {
    try {
      const jsm = await nc.jetstreamManager({ checkAPI: false })
      const { state } = await jsm.streams.info(name)
      return { first: state.first_seq, last: state.last_seq, messages: state.messages }
    } catch (err) {
      throw failed('cannot read the state of', err)
    }
  }

  return {
    name,
    info,
    async exists() {
      try {
        await info()
        return true
      } catch (err) {
        if (missing((err as Error).cause)) return false
        throw err
      }
    },
    async probe(seq) {
      let consumer
      try {
        consumer = await js.consumers.get(name, { opt_start_seq: seq })
        const m = await consumer.next({ expires: PROBE_WAIT })
        return m === null ? null : { seq: m.seq, data: m.data }
      } catch (err) {
        throw failed(`cannot read message ${seq} of`, err)
      } finally {
        await consumer?.delete().catch(() => false)
      }
    },
    async *read(from, until, signal) {
      if (until !== null && from > until) return
      let consumer
      let messages
      try {
        consumer = await js.consumers.get(name, { opt_start_seq: from })
        messages = await consumer.consume({ max_messages: 1000 })
      } catch (err) {
        throw failed('cannot read', err)
      }
      const stop = (): void => messages.stop()
      signal?.addEventListener('abort', stop, { once: true })
      void nc.closed().then(stop)
      let last = from - 1
      try {
        for await (const m of messages) {
          last = m.seq
          yield { seq: m.seq, data: m.data }
          if (until !== null && m.seq >= until) return
        }
      } finally {
        signal?.removeEventListener('abort', stop)
        messages.stop()
        await consumer.delete().catch(() => false)
      }
      if (until !== null && signal?.aborted !== true) {
        throw new LedgerStreamError(`the NATS connection closed while reading ${name}, after sequence ${last} of ${until}`)
      }
    },
    entries,
    decode,
    async close() {
      if (!nc.isClosed()) await nc.close()
    },
  }
}
