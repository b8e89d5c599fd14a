// banledger replay: rebuild every projection from the log and verify it.
// With --from-bus, first seed a new ledger from the NATS ledger stream.
import { mkdir, readdir, rename, rm } from 'node:fs/promises'
import { LedgerStore, splitStateKey, type IdKey } from '../../../ledger/store/ledger-store.js'
import { entriesFrom, replay } from '../../../ledger/store/log-reader.js'
import { encodeState } from '../../../proto/wire.js'
import { CodedError } from '../../../services/coded-error.js'
import { ledgerDir } from '../../../services/run/data-dir.js'
import type { Config } from '../../config/types.js'
import { CONFIG_HELP, configOption, parse, readConfig, type CliIO, type Command } from '../command.js'
import { openLedgerApi } from '../ledger-access.js'
import type { LedgerStream, StreamEntry, StreamState } from '../ledger-stream.js'
import { UsageError } from '../usage-error.js'

const BAR = 30
/** Entries (or projection rows) per synced write when seeding. */
const SEED_BATCH = 2000

/** A ledger cannot be seeded from the bus here: one exists already, or the
 *  stream does not hold the whole ledger. */
export class SeedError extends CodedError<'BANLEDGER_SEED_REFUSED'> {
  override readonly name = 'SeedError'
  constructor(message: string) {
    super('BANLEDGER_SEED_REFUSED', message)
  }
}

export const replayCommand: Command = {
  help: `Usage: banledger replay [--config FILE]
       banledger replay --from-bus [--config FILE]

Replays the whole event log into fresh projections (bans, counters, grace
windows) and compares them, row by row and byte for byte, with the stored
ones. Exit status 0 when they are equal, 1 when not (the differences are
listed). Shows progress on a terminal.

With --from-bus (bus: { nats: ... } only), first seeds a new ledger in
<data_dir>/ledger from the stream <PREFIX>_LEDGER (BANLEDGER_LEDGER), which
holds every entry the ledger committed (in chunks of consecutive entries): to move the ledger to another host,
or to rebuild it after losing its disk. Every entry from sequence 1 is
written to the log with its idempotency index (an input already stored stays
a duplicate), the projection is rebuilt by replay, then verified as above.
Prints the entries, addresses, bans in force and the time taken. Refused
(exit status 1) unless the ledger does not exist yet or is empty (a ledger
the service created without an entry counts as empty; stop the service
first), and unless the stream still starts at ledger sequence 1, without
gaps.
The new ledger is built in <data_dir>/ledger.from-bus and moved into place
only once complete. Then start the ledger role on this host: it publishes
from where the stream ends.

Options:
  --from-bus        seed a new ledger from the NATS ledger stream first
${CONFIG_HELP}

Examples:
  banledger replay
  banledger replay --from-bus --config /etc/banledger/banledger.yaml

Exit status: 0 when the projections verify, 1 when they differ or the
ledger cannot be read or seeded, 2 on a usage error, 78 on a configuration
error.`,
  async run(args, io) {
    const { values, positionals } = parse('replay', args, { ...configOption, 'from-bus': { type: 'boolean' } })
    if (values.help === true) { io.out(this.help); return 0 }
    if (positionals.length > 0) throw new UsageError(`replay: unexpected argument ${JSON.stringify(positionals[0])}`)
    const config = await readConfig(values)
    if (values['from-bus'] === true) await seedFromBus(config, io)
    const api = await openLedgerApi(config, { create: false })
    const started = performance.now()
    try {
      let total = 0
      const progress = io.isTTY && api.via === 'direct'
        ? (entries: number, lastSeq: number): void => {
          total = Math.max(total, lastSeq)
          drawBar(entries, total, `${entries} entries`)
        }
        : undefined
      const report = await api.verify(progress)
      if (progress !== undefined) process.stderr.write('\n')
      const secs = (performance.now() - started) / 1000
      io.out(`replayed ${report.entries} entries into ${report.addresses} addresses in ${secs.toFixed(2)}s (${api.via === 'service' ? 'by the running service' : 'directly'})`)
      if (report.mismatches.length === 0) {
        io.out('projections verified: replay equals the stored state')
        return 0
      }
      io.err(`projections differ from replay (${report.mismatchCount}):`)
      for (const m of report.mismatches) io.err(`  ${m}`)
      return 1
    } finally {
      await api.close()
    }
  },
}

/** `\r[#####     ] text` on stderr (a terminal). */
function drawBar(done: number, total: number, text: string): void {
  const part = Math.min(1, done / Math.max(total, 1))
  process.stderr.write(`\r[${'#'.repeat(Math.round(part * BAR)).padEnd(BAR)}] ${text}`)
}

// ---------------------------------------------------------------- --from-bus

type Seeded = Readonly<{ entries: number; addresses: number; bans: number }>

/** Seeds <data_dir>/ledger from the ledger stream, or throws (SeedError,
 *  LedgerStreamError...) leaving the data dir as it was. */
async function seedFromBus(config: Config, io: CliIO): Promise<void> {
  if (config.bus.kind !== 'nats') {
    throw new UsageError(`replay --from-bus: ${config.path} has no bus: { nats: ... } to read the ledger stream from`)
  }
  const started = performance.now()
  const dir = ledgerDir(config)
  const target = await seedTarget(dir)
  const building = `${dir}.from-bus`
  const { openLedgerStream } = await import('../ledger-stream.js')
  const stream = await openLedgerStream(config.bus.nats, config.host, io, { follow: false, purpose: 'replay --from-bus' })
  let seeded: Seeded
  try {
    const state = await stream.info()
    const lastSeq = await checkStream(stream, state)
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
    await rm(building, { recursive: true, force: true })
    seeded = await build(building, stream, state, lastSeq, io)
  } catch (err) {
    await rm(building, { recursive: true, force: true })
    throw err
  } finally {
    await stream.close()
  }
  // Into place: an empty ledger goes first; rename() itself refuses a
  // directory that was filled meanwhile.
  if (target === 'empty ledger') await rm(dir, { recursive: true, force: true })
  try {
    await rename(building, dir)
  } catch (err) {
    await rm(building, { recursive: true, force: true })
    throw new SeedError(`${dir} was filled while seeding (did the service start?): ${(err as Error).message}`)
  }
  const secs = (performance.now() - started) / 1000
  io.out(`seeded ${dir} from ${stream.name}: ${seeded.entries} entries, ${seeded.addresses} addresses, ` +
    `${seeded.bans} bans in force, in ${secs.toFixed(2)}s`)
}

/** What is at `dir` now: nothing (or an empty directory), or a ledger
 *  without any entry. SeedError for anything else. */
async function seedTarget(dir: string): Promise<'nothing' | 'empty ledger'> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'nothing'
    throw err
  }
  if (names.length === 0) return 'nothing'
  if (!names.includes('CURRENT')) throw new SeedError(`${dir} is not empty and holds no ledger: move it away first`)
  // LedgerLockedError when the service holds it: it must be stopped.
  const store = await LedgerStore.open(dir, { create: false })
  try {
    const last = await store.lastSeq()
    const first = await entriesFrom(store, 1, 1)
    let rows = 0
    for await (const chunk of store.rawStates(1)) {
      rows = chunk.length
      break
    }
    if (last > 0 || first.length > 0 || rows > 0) {
      throw new SeedError(`the ledger in ${dir} already holds entries (up to sequence ${Math.max(last, first[0]?.seq ?? 0)}): ` +
        `--from-bus seeds a new ledger only; stop the service and move ${dir} away first`)
    }
  } finally {
    await store.close()
  }
  return 'empty ledger'
}

/** The last ledger sequence in the stream; SeedError unless it holds the
 *  whole ledger from sequence 1 (gaps are found while reading it). */
async function checkStream(stream: LedgerStream, s: StreamState): Promise<number> {
  const name = stream.name
  const ends = s.messages === 0 ? null : await Promise.all([stream.probe(s.first), stream.probe(s.last)])
  const [head, tail] = ends ?? [null, null]
  if (head === null || tail === null) throw new SeedError(`the stream ${name} holds no ledger entry: there is nothing to seed a ledger from`)
  const first = (stream.entries(head.seq, head.data)[0] as StreamEntry).seq
  if (first !== 1) {
    throw new SeedError(`the stream ${name} starts at sequence ${first}: entries 1 to ${first - 1} are gone from it, ` +
      'and a ledger cannot be rebuilt without them')
  }
  return (stream.entries(tail.seq, tail.data).at(-1) as StreamEntry).seq
}

/** Writes every entry (log and idempotency index, as the ledger appends
 *  them), then the projection that replaying them gives: the rows the
 *  ledger itself holds, as `banledger replay` verifies. */
async function build(dir: string, stream: LedgerStream, state: StreamState, lastSeq: number, io: CliIO): Promise<Seeded> {
  const store = await LedgerStore.open(dir)
  try {
    let batch: { seq: number; bytes: Uint8Array; id: string | null }[] = []
    let next = 1
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return
      // Ticks have no id: only the others' are keyed, in batch order.
      const keys = store.idKeys(batch.flatMap(e => (e.id === null ? [] : [e.id])))
      let k = 0
      const entries = batch.map(e => ({ ...e, id: e.id === null ? null : keys[k++] as IdKey }))
      await store.append({ entries, states: [], lastSeq: next - 1 })
      batch = []
      if (io.isTTY) drawBar(next - 1, lastSeq, `${next - 1}/${lastSeq} entries from ${stream.name}`)
    }
    for await (const { seq, data } of stream.read(state.first, state.last)) {
      for (const e of stream.entries(seq, data)) {
        if (e.seq !== next) {
          throw new SeedError(`the stream ${stream.name} has no ledger entry ${next} (message ${seq} holds ${e.seq} next): ` +
            'a ledger cannot be rebuilt with gaps')
        }
        const entry = stream.decode(seq, e)
        // Ticks have no id; every other input is deduplicated against it.
        batch.push({ seq: e.seq, bytes: e.bytes.slice(), id: entry.cause.type === 'tick' ? null : entry.cause.id })
        next++
        if (batch.length >= SEED_BATCH) await flush()
      }
    }
    if (next !== lastSeq + 1) {
      throw new SeedError(`the stream ${stream.name} ends at ledger entry ${next - 1}, not ${lastSeq} as it did when seeding began`)
    }
    await flush()
    if (io.isTTY) process.stderr.write('\n')

    const { states } = await replay(store)
    const rows = [...states].map(([key, s]) => ({ ...splitStateKey(key), state: encodeState(s) }))
    for (let i = 0; i < rows.length; i += SEED_BATCH) {
      await store.append({ entries: [], states: rows.slice(i, i + SEED_BATCH), lastSeq })
    }
    const now = io.now()
    let bans = 0
    for (const s of states.values()) if (s.ban !== null && s.ban.until > now) bans++
    return { entries: next - 1, addresses: states.size, bans }
  } finally {
    await store.close()
  }
}
