// Buses for tests: the embedded one, or a NatsBus on a nats-server started
// for the test (test/helpers/nats-server.ts). Everything is closed in `t`'s
// teardown. Also a LedgerFeed in memory, for adapters tested without a
// ledger, and log capture.
import { connect, type JetStreamManager } from 'nats'
import pino, { type Logger } from 'pino'
import { decisionsOf } from '../../ledger/rules/decisions.js'
import { decodeEntry, encodeEntry } from '../../proto/wire.js'
import type { CommitListener } from '../../ledger/ledger.js'
import type { LedgerEntry, LogEvent } from '../../ledger/rules/types.js'
import { DEFAULT_STREAM_MAX_AGE, type NatsBusConfig } from '../../services/bus/bus-config.js'
import type { Bus, Committed, LedgerFeed } from '../../services/bus/bus.js'
import { EmbeddedBus } from '../../services/bus/embedded-bus.js'
import { entriesOf } from '../../proto/ledger-chunk.js'
import { ledgerStreamEnd } from '../../services/bus/nats/ledger-messages.js'
import { DEFAULT_TIMEOUTS, NatsBus, type NatsTimeouts } from '../../services/bus/nats/nats-bus.js'
import { startNats, type NatsServer } from './nats-server.js'
import { patience } from './patience.js'

type Teardown = { teardown(fn: () => unknown): void }

export type Logs = { logger: Logger; lines: string[] }

/** A pino logger whose lines (JSON text) land in `lines`. */
export function captureLogs(level: pino.Level = 'info'): Logs {
  const lines: string[] = []
  return { lines, logger: pino({ level }, { write: (line: string) => { lines.push(line) } }) }
}

export function natsConfig(server: Pick<NatsServer, 'url'>, over: Partial<NatsBusConfig> = {}): NatsBusConfig {
  return {
    servers: [server.url], user: null, password: null, token: null, creds: null, tls: null, inboxPrefix: null,
    subjectPrefix: 'banledger', streamPrefix: 'BANLEDGER', eventsMaxAge: DEFAULT_STREAM_MAX_AGE,
    decisionsMaxAge: DEFAULT_STREAM_MAX_AGE, replicas: 1, ...over,
  }
}

/** The bus's request timeouts, scaled like every wait of the tests (patience.ts). */
export const NATS_TIMEOUTS: NatsTimeouts = {
  publish: patience(DEFAULT_TIMEOUTS.publish), snapshot: patience(DEFAULT_TIMEOUTS.snapshot), ledgerPublish: patience(DEFAULT_TIMEOUTS.ledgerPublish),
}

/** A NatsBus of host `host` on `server`; closed in teardown. */
export async function natsBus(t: Teardown, server: Pick<NatsServer, 'url'>, opts: { host?: string; logger?: Logger } = {}): Promise<NatsBus> {
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100, inboxPrefix: `_INBOX.${opts.host ?? 'test'}` })
  const bus = new NatsBus({
    nc, config: natsConfig(server), host: opts.host ?? 'test', logger: opts.logger ?? pino({ level: 'silent' }), timeouts: NATS_TIMEOUTS,
  })
  t.teardown(() => bus.close())
  return bus
}

export type BusKind = 'embedded' | 'nats'

/** Opens buses of one kind that talk to each other (the same process for
 *  embedded, the same server for NATS): `open()` gives the next one. */
export async function busFactory(t: Teardown, kind: BusKind, logger?: Logger): Promise<{ open(host?: string): Promise<Bus>; server: NatsServer | null }> {
  if (kind === 'embedded') {
    const bus = new EmbeddedBus()
    t.teardown(() => bus.close())
    return { open: async () => bus, server: null }
  }
  const server = await startNats(t)
  return { open: host => natsBus(t, server, { ...(host === undefined ? {} : { host }), ...(logger === undefined ? {} : { logger }) }), server }
}

/** A ledger feed held in memory: `commit` appends entries and tells the listeners. */
export class MemoryFeed implements LedgerFeed {
  readonly entries: LedgerEntry[] = []
  readonly #listeners = new Set<CommitListener>()

  get seq(): number {
    return this.entries.length
  }

  async read(from: number, limit: number): Promise<Committed[]> {
    return this.entries.slice(from - 1, from - 1 + limit).map(committed)
  }

  onCommit(listener: CommitListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /** Appends one entry per ban (and unban when `lift`), in order. */
  commitBans(ips: readonly string[], at: number, lift = false): LedgerEntry[] {
    const made: LedgerEntry[] = ips.map(ip => {
      const seq = this.entries.length + 1
      const entry: LedgerEntry = {
        seq, at,
        cause: { type: 'operator', action: lift ? 'unban' : 'ban', id: `op-${seq}`, jail: 'ssh', ip, at, actor: 'test', reason: 'test' },
        events: [lift
          ? { type: 'BanLifted', jail: 'ssh', ip, at, reason: 'operator' }
          : { type: 'BanIssued', jail: 'ssh', ip, at, until: at + 3_600_000, reason: 'operator', repeat: 0, failures: 0 }],
      }
      this.entries.push(entry)
      return entry
    })
    for (const l of this.#listeners) l(made, made.flatMap(decisionsOf), made.map(encodeEntry))
    return made
  }
}

const committed = (entry: LedgerEntry): Committed => ({ entry, bytes: encodeEntry(entry) })

let counter = 0
/** A failure event of `host` for `ip`. */
export function logEvent(host: string, ip: string, at: number, over: Partial<LogEvent> = {}): LogEvent {
  return {
    type: 'log', kind: 'failure', id: `${host}:test:${++counter}`, jail: 'ssh', ip, at, host,
    source: '/var/log/auth.log', receivedAt: at, ...over,
  }
}

/** The last ledger sequence the ledger stream holds (its messages hold
 *  chunks of entries; 0: none). Needs MSG.GET on the stream (the ledger's
 *  user, or no permissions). */
export async function publishedSeq(jsm: JetStreamManager, stream = 'BANLEDGER_LEDGER', subject = 'banledger.ledger'): Promise<number> {
  return (await ledgerStreamEnd(jsm, stream, subject)).ledgerSeq
}

/** Every entry the ledger stream holds, decoded, in stream order. */
export async function streamEntries(jsm: JetStreamManager, stream = 'BANLEDGER_LEDGER'): Promise<LedgerEntry[]> {
  const { state } = await jsm.streams.info(stream)
  const out: LedgerEntry[] = []
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq })
    for (const bytes of entriesOf(m.data)) out.push(decodeEntry(bytes))
  }
  return out
}
