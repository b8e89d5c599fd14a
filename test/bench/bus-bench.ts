// Bus benchmark (not a test): the NATS bus's scale targets, measured on real
// processes: one nats-server on loopback (JetStream, file storage in a temp
// store dir) and `banledger run --role ...` child processes, each with its
// own config and data dir, as a fleet would run them. Each figure is printed
// with its target and met / NOT MET.
//   1. sustained ingest: 2 watchers (web1, web2), each following its own log
//      file of sshd failures (one per address, 2001:db8::/32, so no ban forms),
//      into 1 ledger that acknowledges after its synced LevelDB write.
//      Events stored by the ledger per second, first to last, read from the
//      ledger stream's last entry (the last of its last message, a chunk of
//      entries; the stream's last sequence is sampled, mapped to the
//      ledger sequence by reading the stream after the run)   >= 50,000/s
//      For context (no target): the ledger alone draining the same events
//      from the stream once the watchers published them all (the ledger
//      side's rate when the watchers run on other hosts), events stored in
//      the events stream and acknowledged by the ledger (the stream holds
//      batches of events: the bench counts them by reading it), and the CPU
//      seconds each process used.
//   2. decision latency at 1,000 events/s over NATS: 2 watchers, 1 ledger,
//      3 firewall workers (dry-run backends), every 3rd failure of an
//      attacker makes a ban; from the watcher reading the line to the ban
//      applied at each worker                        p50 <= 5 ms, p99 <= 50 ms
//   3. the same on the embedded bus (one `banledger run`, every role, both
//      log files, its own dry-run firewall)                      p99 <= 5 ms
// Where the times come from (all one machine, one wall clock, ms):
// - "read": the event's receivedAt, which the watcher stamps as it turns the
//   lines it just read into events (watcher.ts); the bench reads it from the
//   ledger store after the run (the ban entry's cause).
// - "written": Date.now() right after the bench's write(2) of the line
//   (context: includes the watcher's poll wait).
// - the ledger's commit: its decision log line (logged once the synced write
//   is done); on NATS, the decisions stream's stored timestamp.
// - "at the worker": the dry-run backend's 'dry-run: would ban' log line,
//   pino's `time` (ms), i.e. when the worker applied the decision.
// The watchers poll their files every 10 ms (watcher.poll_interval; 10 ms
// is the least the config takes; they poll, no fs.watch), so "written" ->
// "read" adds about 5 ms on average and up to 10 ms.
// Run: npm run bench:bus (builds, then node dist/test/bench/bus-bench.js);
// about 2 minutes. Exits 1 when a target is missed; any process that exits
// by itself is reported with its last output. Options:
//   --profile   run the ingest's ledger and watchers with --cpu-prof and
//               print where their time goes (profiles kept, paths printed)
//   --events N  events for the ingest figure (default 240,000)
//   --only P    one part: ingest, nats or embedded
// Needs /usr/sbin/nats-server (apt-get install nats-server).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { connect, type ConsumerMessages, type JetStreamManager, type NatsConnection } from 'nats'
import { canonicalAddress } from '../../ledger/rules/addresses.js'
import type { LedgerEntry } from '../../ledger/rules/types.js'
import { LedgerStore } from '../../ledger/store/ledger-store.js'
import { entriesFrom } from '../../ledger/store/log-reader.js'
import { decodeDecision } from '../../proto/wire.js'
import { entrySeqs } from '../../proto/ledger-chunk.js'
import { NATS_SERVER, startNats, type NatsServer } from '../helpers/nats-server.js'

const argv = process.argv.slice(2)
const PROFILE = argv.includes('--profile')
const onlyArg = argv.indexOf('--only')
const ONLY = onlyArg === -1 ? null : argv[onlyArg + 1] ?? ''
if (ONLY !== null && !['ingest', 'nats', 'embedded'].includes(ONLY)) throw new TypeError('--only: ingest, nats or embedded')
const eventsArg = argv.indexOf('--events')
const INGEST_EVENTS = eventsArg === -1 ? 240_000 : Number(argv[eventsArg + 1])
if (!Number.isSafeInteger(INGEST_EVENTS) || INGEST_EVENTS < 2000 || INGEST_EVENTS % 2 !== 0) throw new TypeError('--events: an even number >= 2000')
const INGEST_TARGET = 50_000
/** Gives up when the ledger sequence does not move for this long. */
const INGEST_STALL_MS = 20_000
const RATE = 1000 // lines per second, latency figures
const WARMUP_S = 3
const MEASURE_S = 20
/** Every ATTACK_EVERY-th line is an attacker's (3 of them make a ban): 50
 *  attacker lines/s, 16.7 bans/s, about 330 bans measured. */
const ATTACK_EVERY = 20
const DRAIN_MS = 10_000
const [P50_TARGET, P99_TARGET, EMBEDDED_P99_TARGET] = [5, 50, 5]
const LOAD_BEFORE = loadavg()
const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bin/banledger.js')
const STREAMS = { events: 'BANLEDGER_EVENTS', ledger: 'BANLEDGER_LEDGER', decisions: 'BANLEDGER_DECISIONS' }

// ------------------------------------------------------------- clean-up

const children = new Set<ChildProcess>()
const servers = new Set<NatsServer>()
const dirs: string[] = []
const keep: string[] = [] // profiles, when asked for
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
  for (const s of servers) {
    try { if (s.pid > 0) process.kill(s.pid, 'SIGKILL') } catch { /* gone */ }
    rmSync(s.storeDir, { recursive: true, force: true })
  }
  for (const d of dirs) if (!keep.includes(d)) rmSync(d, { recursive: true, force: true })
})
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130))

function tempDir(prefix = 'banledger-bus-bench-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.push(dir)
  return dir
}

/** A nats-server (test/helpers/nats-server.ts); `down` kills it and removes its store. */
async function natsServer(): Promise<{ server: NatsServer; down: () => Promise<void> }> {
  const teardowns: (() => unknown)[] = []
  const server = await startNats({ teardown: fn => { teardowns.push(fn) } })
  servers.add(server)
  return {
    server,
    async down() {
      for (const fn of teardowns.reverse()) await fn()
      servers.delete(server)
    },
  }
}

// ------------------------------------------------------------ processes

type LogRecord = { level: number; time: string; msg: string; decision?: { type: string; ip: string; seq: number }; firewall?: { ip?: string } }

type Proc = {
  name: string
  child: ChildProcess
  pid: number
  /** Decision and dry-run lines, warnings and errors, 'banledger running'. */
  records: LogRecord[]
  problems: string[]
  tail: () => string
  exited: Promise<number | null>
  /** Set when the bench stops it (an exit without it is a crash). */
  stopping: boolean
}

const kept = (r: LogRecord): boolean =>
  r.level >= 40 || r.decision !== undefined || r.msg === 'dry-run: would ban' || r.msg.startsWith('banledger running')

/** `banledger run --config <config> --role ...` (every role when `roles` is empty); resolves once it runs. */
async function startProc(name: string, config: string, roles: readonly string[], nodeArgs: readonly string[] = []): Promise<Proc> {
  const args = ['--max-semi-space-size=64', ...nodeArgs, BIN, 'run', '--config', config, ...roles.flatMap(r => ['--role', r])]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  const records: LogRecord[] = []
  const problems: string[] = []
  let tail = ''
  let rest = ''
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    tail = (tail + s).slice(-8192)
    const lines = (rest + s).split('\n')
    rest = lines.pop() ?? ''
    for (const line of lines) {
      if (line === '') continue
      let r: LogRecord
      try { r = JSON.parse(line) as LogRecord } catch { problems.push(`not JSON: ${line.slice(0, 200)}`); continue }
      if (!kept(r)) continue
      records.push(r)
      if (r.level >= 40 && problems.length < 20) problems.push(`${name}: ${r.msg}`)
    }
  })
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { tail = (tail + s).slice(-8192) })
  const proc: Proc = { name, child, pid: child.pid ?? -1, records, problems, tail: () => tail, exited: Promise.resolve(null), stopping: false }
  proc.exited = new Promise<number | null>(ok => child.once('exit', (code, signal) => {
    children.delete(child)
    if (!proc.stopping) problems.push(`${name} exited by itself (${code ?? signal}); its last output:\n${tail.slice(-3000)}`)
    ok(code)
  }))
  const t0 = performance.now()
  while (!records.some(r => r.msg.startsWith('banledger running'))) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited before running:\n${tail}`)
    if (performance.now() - t0 > 30_000) throw new Error(`${name} not running after 30 s:\n${tail}`)
    await sleep(10)
  }
  return proc
}

/** SIGTERM (a clean stop: the ledger closes its store), SIGKILL after 15 s. */
async function stopProc(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return
  p.stopping = true
  p.child.kill('SIGTERM')
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 15_000)
  await p.exited
  clearTimeout(timer)
}

/** User + system CPU seconds of a process so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100 // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN
  }
}

type ConfigOpts = { host: string; logpath: readonly string[]; nats: string | null }

/** A config like test/helpers/cli.ts writeConfig, for one process in `dir`. */
function writeConfig(dir: string, o: ConfigOpts): string {
  const file = join(dir, 'banledger.yaml')
  writeFileSync(file, `data_dir: ${join(dir, 'data')}
host: ${o.host}
ignore_self: false
log_level: info
watcher: { poll_interval: 10ms }   # the least allowed; the watcher polls
firewall: { backend: dry-run }
${o.nats === null ? '' : `bus: { nats: { servers: [${o.nats}] } }`}
defaults: { maxretry: 3, findtime: 48h, bantime: 5d }
jails:
  ssh:
    filter: sshd
    success_filter: sshd-success
    logpath: [${o.logpath.join(', ')}]
    ports: [22]
`)
  return file
}

function procDir(root: string, name: string): string {
  const dir = join(root, name)
  mkdirSync(dir, { recursive: true })
  return dir
}

// ------------------------------------------------------------------ data

/** Distinct canonical IPv6 addresses in 2001:db8::/32: space `ns`, number `n` < 2^30. */
function address(ns: number, n: number): string {
  return `2001:db8:${ns.toString(16)}:${((n >>> 15) + 1).toString(16)}:${((n & 0x7fff) + 1).toString(16)}::1`
}
for (const n of [0, 1, 0x7fff, 0x8000, 999_999]) if (canonicalAddress(address(7, n)) !== address(7, n)) throw new Error(`not canonical: ${address(7, n)}`)

/** An sshd line as rsyslog writes it (RFC 3339), the syslog host `host`. */
const stamp = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19)}+00:00`
const sshdFailure = (at: string, host: string, ip: string): string =>
  `${at} ${host} sshd[4242]: Failed password for root from ${ip} port 22 ssh2\n`

// --------------------------------------------------------------- figures

type Row = { name: string; value: string; target?: string; met?: boolean }
const rows: Row[] = []
const notes: string[] = []
const fmt = (n: number, digits = 0): string => Number.isFinite(n)
  ? (Math.abs(n) < 0.5 * 10 ** -digits ? 0 : n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
  : String(n)
const pct = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN

// ---------------------------------------------------------------- ingest

/** `ledger`: the ledger sequence published; -1 until `ledgerSeqs` fills it
 *  in from `ledgerMessages` (the ledger stream's last sequence then). */
type Sample = { t: number; ledger: number; ledgerMessages: number; acked: number; published: number }

/** The events a LogEventBatch holds: its top-level field-1 records, counted
 *  without decoding them (the bench shares the 2 cores it measures). */
function eventsIn(data: Uint8Array): number {
  let n = 0
  let i = 0
  const varint = (): number => {
    let v = 0
    for (let shift = 0; ; shift += 7) {
      const b = data[i++] ?? 0
      v += (b & 0x7f) * 2 ** shift
      if (b < 0x80) return v
    }
  }
  while (i < data.length) {
    const tag = varint()
    if (tag !== 0x0a) throw new Error(`not a LogEventBatch (tag ${tag})`)
    const length = varint()
    i += length
    n++
  }
  return n
}

/** Events in the events stream, read as they are stored (an ordered
 *  consumer): a message holds a batch of them, so its sequence does not
 *  count them. `upTo(seq)`: the events in messages 1..seq read so far. */
class EventCounter {
  #total = 0
  readonly #cumulative: number[] = [0]
  readonly #stop: () => void
  readonly #done: Promise<void>

  private constructor(messages: ConsumerMessages) {
    this.#stop = () => messages.stop()
    this.#done = (async () => {
      for await (const m of messages) {
        this.#total += eventsIn(m.data)
        this.#cumulative[m.seq] = this.#total
      }
    })()
  }

  static async follow(nc: NatsConnection): Promise<EventCounter> {
    const consumer = await nc.jetstream().consumers.get(STREAMS.events)
    return new EventCounter(await consumer.consume())
  }

  get total(): number {
    return this.#total
  }

  upTo(seq: number): number {
    for (let s = Math.min(seq, this.#cumulative.length - 1); s > 0; s--) {
      const n = this.#cumulative[s]
      if (n !== undefined) return n
    }
    return 0
  }

  async stop(): Promise<void> {
    this.#stop()
    await this.#done
  }
}

/** Polls the streams every 20 ms until `done(sample)`, until `moving(sample)`
 *  has not changed for INGEST_STALL_MS, or until a process is not `alive()`. */
async function probe(jsm: JetStreamManager, events: EventCounter, done: (s: Sample) => boolean, moving: (s: Sample) => number, alive: () => boolean): Promise<Sample[]> {
  const samples: Sample[] = []
  let lastMove = performance.now()
  let last = -1
  // The ledger stream's messages each hold consecutive entries: while the
  // run goes on only the stream's last sequence is sampled (stream info, as
  // cheap as before chunks); the ledger sequence of each sample is read from
  // the stream after the run (ledgerSeqs), and here only once every event
  // is acknowledged, to see the end.
  let end = { streamSeq: -1, ledgerSeq: -1 }
  const ledgerSeq = async (streamSeq: number, acked: number): Promise<number> => {
    if (acked < INGEST_EVENTS || streamSeq === 0) return -1
    if (streamSeq !== end.streamSeq) {
      end = { streamSeq, ledgerSeq: entrySeqs((await jsm.streams.getMessage(STREAMS.ledger, { seq: streamSeq })).data).last }
    }
    return end.ledgerSeq
  }
  while (true) {
    const t0 = performance.now()
    const [l, c] = await Promise.all([
      jsm.streams.info(STREAMS.ledger), jsm.consumers.info(STREAMS.events, 'ledger').catch(() => null),
    ])
    const t = (t0 + performance.now()) / 2
    const acked = events.upTo(c?.ack_floor.stream_seq ?? 0)
    const s = { t, ledger: await ledgerSeq(l.state.last_seq, acked), ledgerMessages: l.state.last_seq, acked, published: events.total }
    samples.push(s)
    if (done(s)) return samples
    if (moving(s) !== last) { last = moving(s); lastMove = t }
    if (t - lastMove > INGEST_STALL_MS || !alive()) return samples
    await sleep(20)
  }
}

/** Fills in each sample's ledger sequence: the last entry of the ledger
 *  stream's message at its `ledgerMessages` (read after the run). */
async function ledgerSeqs(nc: NatsConnection, samples: Sample[]): Promise<void> {
  const last = Math.max(0, ...samples.map(s => s.ledgerMessages))
  const upTo: number[] = [0]
  if (last > 0) {
    const messages = await (await nc.jetstream().consumers.get(STREAMS.ledger)).consume()
    for await (const m of messages) {
      upTo[m.seq] = entrySeqs(m.data).last
      if (m.seq >= last) break
    }
    messages.stop()
  }
  for (const s of samples) if (s.ledger === -1) s.ledger = upTo[s.ledgerMessages] ?? 0
}

/** Events per second of `key`, from the first sample above 0 to the first at INGEST_EVENTS. */
function rateOf(samples: readonly Sample[], key: 'ledger' | 'acked' | 'published'): { rate: number; seconds: number; reached: number } {
  const first = samples.find(s => s[key] > 0)
  const done = samples.find(s => s[key] >= INGEST_EVENTS) ?? samples[samples.length - 1]
  if (first === undefined || done === undefined || done === first) return { rate: 0, seconds: 0, reached: done?.[key] ?? 0 }
  const seconds = (done.t - first.t) / 1000
  return { rate: (done[key] - first[key]) / seconds, seconds, reached: done[key] }
}

/** Ledger events stored in each second from the first one. */
function perSecond(samples: readonly Sample[]): string {
  const out: number[] = []
  const first = samples.find(s => s.ledger > 0)
  if (first === undefined) return 'none'
  const at = (t: number) => [...samples].reverse().find(s => s.t <= t) as Sample
  for (let k = 1; ; k++) {
    const a = at(first.t + (k - 1) * 1000)
    const z = at(first.t + k * 1000)
    if (z === a || a.ledger >= INGEST_EVENTS) break
    out.push(z.ledger - a.ledger)
  }
  return out.map(n => `${fmt(n / 1000, 1)}k`).join(' ')
}

/** CPU seconds each process used since it was added (or since reset). */
class CpuMeter {
  readonly #start = new Map<string, { pid: number; cpu: number; startup?: number }>()
  #bench = process.cpuUsage()
  /** `fromZero`: since the process started; what it used until now (its
   *  start-up: node, modules, config, connecting) is printed apart. */
  add(name: string, pid: number, fromZero = false): void {
    this.#start.set(name, fromZero ? { pid, cpu: 0, startup: cpuSeconds(pid) } : { pid, cpu: cpuSeconds(pid) })
  }
  reset(): void {
    for (const [name, s] of this.#start) this.#start.set(name, { pid: s.pid, cpu: cpuSeconds(s.pid) })
    this.#bench = process.cpuUsage()
  }
  read(): string {
    const b = process.cpuUsage(this.#bench)
    return [...[...this.#start].map(([name, s]) =>
      `${name} ${fmt(cpuSeconds(s.pid) - s.cpu, 1)}${s.startup === undefined ? '' : ` (${fmt(s.startup, 1)} of it starting)`}`),
    `bench (probe) ${fmt((b.user + b.system) / 1e6, 1)}`].join(', ')
  }
}

/** The log of watcher `host`: one failure per address, a minute old (well
 *  within findtime, so a first start reads it all); written before the
 *  watcher starts. */
function writeIngestLog(log: string, host: string, ns: number): void {
  const per = INGEST_EVENTS / 2
  const at = stamp(Date.now() - 60_000)
  const lines: string[] = new Array<string>(per)
  for (let n = 0; n < per; n++) lines[n] = sshdFailure(at, host, address(ns, n))
  writeFileSync(log, lines.join(''))
}

/** Figure 1: the watchers and the ledger at once. With `drain`, for
 *  context: the watchers first publish everything with the ledger stopped,
 *  then the ledger alone drains the events stream (what the ledger side
 *  does on this machine when the watchers run on other hosts). */
async function ingest(drain: boolean): Promise<void> {
  const root = tempDir()
  const { server, down } = await natsServer()
  const procs: Proc[] = []
  let nc: NatsConnection | null = null
  let events: EventCounter | null = null
  const profDir = PROFILE ? tempDir('banledger-bus-profile-') : null
  if (profDir !== null) keep.push(profDir)
  const prof = profDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`]
  const label = drain ? 'ingest, ledger alone draining' : 'ingest'
  try {
    nc = await connect({ servers: server.url })
    const jsm = await nc.jetstreamManager()
    const ledgerConfig = writeConfig(procDir(root, 'ledger'), { host: 'ledger', logpath: [join(root, 'unused.log')], nats: server.url })
    let ledger = await startProc('ledger', ledgerConfig, ['ledger'], drain ? [] : prof) // it creates the streams
    procs.push(ledger)
    const counter = events = await EventCounter.follow(nc)
    const watcherConfigs = ['web1', 'web2'].map((host, w) => {
      const dir = procDir(root, host)
      const log = join(dir, 'auth.log')
      writeIngestLog(log, host, w + 1)
      return { host, config: writeConfig(dir, { host, logpath: [log], nats: server.url }) }
    })
    const running = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null
    const alive = () => procs.every(p => p.stopping || running(p))
    const cpu = new CpuMeter()
    cpu.add('nats-server', server.pid)
    let samples: Sample[]
    const w0 = performance.now()
    if (!drain) {
      cpu.add('ledger', ledger.pid)
      const probed = probe(jsm, counter, s => s.ledger >= INGEST_EVENTS, s => s.ledgerMessages, alive)
      const watchers = await Promise.all(watcherConfigs.map(w => startProc(w.host, w.config, ['watcher'], prof)))
      procs.push(...watchers)
      for (const w of watchers) cpu.add(w.name, w.pid, true) // from their start, start-up apart
      samples = await probed
    } else {
      await stopProc(ledger)
      const watchers = await Promise.all(watcherConfigs.map(w => startProc(w.host, w.config, ['watcher'])))
      procs.push(...watchers)
      await probe(jsm, counter, s => s.published >= INGEST_EVENTS, s => s.published, alive)
      for (const w of watchers) await stopProc(w)
      cpu.reset()
      const probed = probe(jsm, counter, s => s.ledger >= INGEST_EVENTS, s => s.ledgerMessages, alive)
      ledger = await startProc('ledger (draining)', ledgerConfig, ['ledger'], prof)
      procs.push(ledger)
      cpu.add('ledger', ledger.pid, true)
      samples = await probed
    }
    const wall = (performance.now() - w0) / 1000
    const used = cpu.read()
    await ledgerSeqs(nc, samples)

    const stored = rateOf(samples, 'ledger')
    const complete = stored.reached === INGEST_EVENTS
    const result = `${fmt(stored.rate)} events/s (${fmt(stored.seconds, 2)} s${complete ? '' : `; only ${fmt(stored.reached)} stored`})`
    if (!drain) {
      rows.push({
        name: `NATS ingest: 2 watchers -> 1 ledger, durable acks (${fmt(INGEST_EVENTS)} events)`,
        value: result, target: `>= ${fmt(INGEST_TARGET)}/s`, met: complete && stored.rate >= INGEST_TARGET,
      })
      rows.push({ name: '  context: acknowledged by the ledger (consumer ack floor)', value: `${fmt(rateOf(samples, 'acked').rate)} events/s` })
      rows.push({ name: '  context: stored in the events stream (watchers\' publishes)', value: `${fmt(rateOf(samples, 'published').rate)} events/s` })
      notes.push(`${label}, most events waiting in the events stream for the ledger: ${fmt(Math.max(...samples.map(s => s.published - s.acked)))}`)
      const messages = (await jsm.streams.info(STREAMS.events)).state.messages
      notes.push(`${label}, events stream: ${fmt(messages)} messages, ${fmt(counter.total / messages, 1)} events each`)
    } else {
      rows.push({ name: '  context: the ledger alone draining the events stream (watchers done)', value: result })
    }
    notes.push(`${label}, events stored per second of the run: ${perSecond(samples)}`)
    notes.push(`${label}, CPU seconds over ${fmt(wall, 1)} s (${cpus().length} cores): ${used}`)
    for (const p of procs) for (const problem of p.problems) notes.push(`${label} warning: ${problem}`)

    for (const p of procs) await stopProc(p)
    if (profDir !== null) notes.push(...summarizeProfiles(profDir, new Map(procs.map(p => [p.pid, p.name]))))
  } finally {
    for (const p of procs) await stopProc(p)
    await events?.stop()
    await nc?.close()
    await down()
  }
}

// --------------------------------------------------------------- latency

/** One line the bench wrote that may make a ban (an attacker's). */
type Written = { at: number; ip: string }

type Plan = { lines: number; file: (i: number) => number; ip: (i: number) => string; attacker: (i: number) => boolean }

/** RATE lines/s alternating over two files; every ATTACK_EVERY-th line an
 *  attacker's, three consecutive attacker lines per attacker (20 ms apart). */
function latencyPlan(ns: number): Plan {
  const lines = RATE * (WARMUP_S + MEASURE_S)
  return {
    lines,
    file: i => (i % ATTACK_EVERY === 0 ? Math.floor(i / ATTACK_EVERY) % 2 : i % 2),
    attacker: i => i % ATTACK_EVERY === 0,
    ip: i => (i % ATTACK_EVERY === 0 ? address(ns + 0x100, Math.floor(i / ATTACK_EVERY / 3)) : address(ns, i)),
  }
}

/** Writes the plan's lines at RATE/s; returns the attacker lines by `<file>:<offset>`. */
async function drive(plan: Plan, logs: readonly string[], hosts: readonly string[]): Promise<{ written: Map<string, Written>; measuredFrom: number; seconds: number }> {
  const fds = logs.map(l => openSync(l, 'a'))
  const size = logs.map(() => 0)
  const written = new Map<string, Written>()
  const p0 = performance.now()
  const measuredFrom = Date.now() + WARMUP_S * 1000
  try {
    let i = 0
    while (i < plan.lines) {
      const due = Math.min(plan.lines, Math.floor(((performance.now() - p0) * RATE) / 1000))
      if (due > i) {
        const now = Date.now()
        const at = stamp(now)
        const text = logs.map(() => '')
        const attacks: { file: number; offset: number; ip: string }[] = []
        for (; i < due; i++) {
          const f = plan.file(i)
          const line = sshdFailure(at, hosts[f] as string, plan.ip(i))
          if (plan.attacker(i)) attacks.push({ file: f, offset: (size[f] as number) + Buffer.byteLength(text[f] as string), ip: plan.ip(i) })
          text[f] += line
        }
        const doneAt: number[] = []
        for (let f = 0; f < logs.length; f++) {
          const t = text[f] as string
          if (t === '') continue
          writeSync(fds[f] as number, t)
          doneAt[f] = Date.now()
          size[f] = (size[f] as number) + Buffer.byteLength(t)
        }
        for (const a of attacks) written.set(`${a.file}:${a.offset}`, { at: doneAt[a.file] as number, ip: a.ip })
      }
      await sleep(1)
    }
  } finally {
    for (const fd of fds) closeSync(fd)
  }
  return { written, measuredFrom, seconds: (performance.now() - p0) / 1000 }
}

/** The ledger entries at `seqs` (after the ledger stopped: it held the lock). */
async function entriesAt(ledgerDir: string, seqs: readonly number[]): Promise<Map<number, LedgerEntry>> {
  const store = await LedgerStore.open(ledgerDir, { create: false })
  try {
    const out = new Map<number, LedgerEntry>()
    for (const seq of seqs) {
      const [e] = await entriesFrom(store, seq, 1)
      if (e !== undefined && e.seq === seq) out.set(seq, e)
    }
    return out
  } finally {
    await store.close()
  }
}

type Ban = { ip: string; seq: number; committed: number; read: number; written: number; decisionStored?: number }
/** A ban applied at a worker at `t`. */
type Sample2 = { ban: Ban; t: number }

async function latency(kind: 'nats' | 'embedded'): Promise<void> {
  const root = tempDir()
  const nats = kind === 'nats' ? await natsServer() : null
  const server = nats?.server ?? null
  const procs: Proc[] = []
  let nc: NatsConnection | null = null
  const hosts = ['web1', 'web2']
  const logs = hosts.map(h => join(root, `${h}.log`))
  for (const l of logs) writeFileSync(l, '')
  const label = kind === 'nats' ? 'NATS' : 'embedded'
  try {
    let ledgerProc: Proc
    let workers: Proc[]
    let ledgerDir: string
    if (server !== null) {
      const url = server.url
      const dir = procDir(root, 'ledger')
      ledgerDir = join(dir, 'data', 'ledger')
      ledgerProc = await startProc('ledger', writeConfig(dir, { host: 'ledger', logpath: [join(root, 'unused.log')], nats: url }), ['ledger'])
      procs.push(ledgerProc)
      workers = await Promise.all(['fw1', 'fw2', 'fw3'].map(host =>
        startProc(host, writeConfig(procDir(root, host), { host, logpath: [join(root, 'unused.log')], nats: url }), ['firewall'])))
      procs.push(...workers)
      procs.push(...await Promise.all(hosts.map((host, i) =>
        startProc(host, writeConfig(procDir(root, host), { host, logpath: [logs[i] as string], nats: url }), ['watcher']))))
    } else {
      const dir = procDir(root, 'all')
      ledgerDir = join(dir, 'data', 'ledger')
      ledgerProc = await startProc('all-roles', writeConfig(dir, { host: 'web1', logpath: logs, nats: null }), [])
      procs.push(ledgerProc)
      workers = [ledgerProc]
    }
    await sleep(500) // the followers are polling

    const plan = latencyPlan(kind === 'nats' ? 1 : 2)
    const { written, measuredFrom, seconds } = await drive(plan, logs, hosts)
    const expected = Math.floor(Math.ceil(plan.lines / ATTACK_EVERY) / 3)

    // Wait for every ban at every worker.
    const t0 = performance.now()
    const bansAt = (p: Proc): number => p.records.filter(r => r.msg === 'dry-run: would ban').length
    while (performance.now() - t0 < DRAIN_MS && workers.some(w => bansAt(w) < expected)) await sleep(50)

    const committed = new Map<string, { seq: number; t: number }>()
    for (const r of ledgerProc.records) {
      if (r.decision?.type === 'ban') committed.set(r.decision.ip, { seq: r.decision.seq, t: Date.parse(r.time) })
    }
    // On NATS: when the decisions stream stored each decision (server clock).
    const decisionStored = new Map<number, number>()
    if (server !== null && committed.size > 0) {
      nc = await connect({ servers: server.url })
      const js = nc.jetstream()
      const consumer = await js.consumers.get(STREAMS.decisions)
      const msgs = await consumer.fetch({ max_messages: committed.size, expires: 5000 })
      for await (const m of msgs) {
        decisionStored.set(decodeDecision(m.data).seq, m.info.timestampNanos / 1e6)
        if (m.info.pending === 0) break
      }
    }
    for (const p of procs) await stopProc(p)
    const entries = await entriesAt(ledgerDir, [...committed.values()].map(c => c.seq))

    // Each ban: the line that made it (the entry's cause: its file and offset).
    const bans: Ban[] = []
    let unmatched = 0
    for (const [ip, c] of committed) {
      const cause = entries.get(c.seq)?.cause
      if (cause?.type !== 'log' || cause.receivedAt === undefined) { unmatched++; continue }
      const offset = cause.id.split('/')[2] // <host>/<fileId>/<offset>/<jail>
      const w = written.get(`${logs.indexOf(cause.source)}:${offset}`)
      if (w === undefined || w.ip !== ip) { unmatched++; continue }
      if (w.at < measuredFrom) continue // warm-up
      const stored = decisionStored.get(c.seq)
      bans.push({ ip, seq: c.seq, committed: c.t, read: cause.receivedAt, written: w.at, ...(stored === undefined ? {} : { decisionStored: stored }) })
    }
    const samples: Sample2[] = []
    let missing = 0
    for (const w of workers) {
      const seen = new Map<string, number>()
      for (const r of w.records) if (r.msg === 'dry-run: would ban' && r.firewall?.ip !== undefined) seen.set(r.firewall.ip, Date.parse(r.time))
      for (const b of bans) {
        const t = seen.get(b.ip)
        if (t === undefined) missing++
        else samples.push({ ban: b, t })
      }
    }
    const fromRead = samples.map(x => x.t - x.ban.read)
    const fromWrite = samples.map(x => x.t - x.ban.written)
    const sorted = fromRead.slice().sort((a, b) => a - b)
    const sortedW = fromWrite.slice().sort((a, b) => a - b)
    const [p50, p99] = [pct(sorted, 50), pct(sorted, 99)]
    const n = `${fmt(bans.length)} bans x ${workers.length} worker${workers.length > 1 ? 's' : ''}`
    const ok = missing === 0 && bans.length >= 100 && unmatched === 0 && committed.size >= expected
    const problems = [committed.size < expected ? `only ${committed.size} of ${expected} bans made` : '',
      missing > 0 ? `${missing} decisions never reached a worker` : '', unmatched > 0 ? `${unmatched} bans not matched to a written line` : '',
      bans.length < 100 ? `only ${bans.length} bans measured` : ''].filter(Boolean).join('; ')
    const value = `p50 ${fmt(p50, 0)} p90 ${fmt(pct(sorted, 90), 0)} p99 ${fmt(p99, 0)} max ${fmt(sorted[sorted.length - 1] ?? NaN, 0)} ms${problems === '' ? '' : `; ${problems}`}`
    if (kind === 'nats') {
      rows.push({ name: `NATS decision latency, line read -> 3 firewall workers (${n})`, value, target: `p50 <= ${P50_TARGET}, p99 <= ${P99_TARGET} ms`, met: ok && p50 <= P50_TARGET && p99 <= P99_TARGET })
    } else {
      rows.push({ name: `embedded decision latency, line read -> firewall (${n})`, value, target: `p99 <= ${EMBEDDED_P99_TARGET} ms`, met: ok && p99 <= EMBEDDED_P99_TARGET })
    }
    rows.push({ name: '  context: from the line written (adds the 10 ms poll)', value: `p50 ${fmt(pct(sortedW, 50), 0)} p99 ${fmt(pct(sortedW, 99), 0)} max ${fmt(sortedW[sortedW.length - 1] ?? NaN, 0)} ms` })
    // Where the time goes: each stage's p50 / p99, and the slowest samples taken apart.
    const stage = (name: string, xs: readonly number[]): string => {
      const sortedXs = xs.slice().sort((x, y) => x - y)
      return `${name} ${fmt(pct(sortedXs, 50), 0)} / ${fmt(pct(sortedXs, 99), 0)}`
    }
    const parts = (s: Sample2): string[] => s.ban.decisionStored === undefined
      ? [`read->commit ${s.ban.committed - s.ban.read}`, `commit->worker ${s.t - s.ban.committed}`]
      : [`read->commit ${s.ban.committed - s.ban.read}`, `commit->stream ${fmt(s.ban.decisionStored - s.ban.committed, 0)}`,
        `stream->worker ${fmt(s.t - s.ban.decisionStored, 0)}`]
    const stages = [
      stage('written->read', bans.map(b => b.read - b.written)),
      stage('read->ledger commit', bans.map(b => b.committed - b.read)),
      ...(kind === 'nats'
        ? [stage('commit->in decisions stream', bans.filter(b => b.decisionStored !== undefined).map(b => (b.decisionStored as number) - b.committed)),
            stage('stream->applied at a worker', samples.filter(x => x.ban.decisionStored !== undefined).map(x => x.t - (x.ban.decisionStored as number)))]
        : [stage('commit->applied', samples.map(x => x.t - x.ban.committed))]),
    ]
    notes.push(`${label} latency, per stage p50 / p99 (ms): ${stages.join(', ')}; drove ${fmt(plan.lines)} lines in ${fmt(seconds, 1)} s`)
    const slow = samples.slice().sort((x, y) => (y.t - y.ban.read) - (x.t - x.ban.read)).slice(0, 4)
    notes.push(`${label} latency, slowest after read (ms): ${slow.map(x => `${x.t - x.ban.read} (${parts(x).join(', ')})`).join('; ')}`)
    for (const p of procs) for (const problem of p.problems) notes.push(`${label} warning: ${problem}`)
  } finally {
    for (const p of procs) await stopProc(p)
    await nc?.close()
    await nats?.down()
  }
}

// --------------------------------------------------------------- profile

type ProfileNode = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
type Profile = { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

/** The functions with the most self time in the .cpuprofile files of `dir`
 *  (named CPU.<date>.<time>.<pid>...: `names` by pid), and this project's
 *  functions with the most inclusive time (themselves and what they call). */
function summarizeProfiles(dir: string, names: ReadonlyMap<number, string>): string[] {
  const out: string[] = []
  for (const file of readdirSync(dir).filter(f => f.endsWith('.cpuprofile'))) {
    const what = names.get(Number(file.split('.')[3])) ?? 'a process'
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile
    const byId = new Map(profile.nodes.map(n => [n.id, n]))
    const parent = new Map<number, number>()
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
    const keyOf = (node: ProfileNode): string => {
      const { functionName, url, lineNumber } = node.callFrame
      return `${functionName || '(anonymous)'}${url === '' ? '' : ` ${url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}`}`
    }
    const self = new Map<string, number>()
    const inclusive = new Map<string, number>()
    let total = 0
    profile.samples.forEach((id, i) => {
      const node = byId.get(id)
      const dt = profile.timeDeltas[i] ?? 0
      total += dt
      if (node === undefined) return
      self.set(keyOf(node), (self.get(keyOf(node)) ?? 0) + dt)
      const seen = new Set<string>()
      for (let n: ProfileNode | undefined = node; n !== undefined; n = byId.get(parent.get(n.id) ?? -1)) {
        const k = keyOf(n)
        if (!n.callFrame.url.includes('/dist/') || seen.has(k)) continue
        seen.add(k)
        inclusive.set(k, (inclusive.get(k) ?? 0) + dt)
      }
    })
    const top = (m: Map<string, number>, n: number) => [...m].sort((x, y) => y[1] - x[1]).slice(0, n)
      .map(([k, us]) => `    ${fmt((100 * us) / total, 1).padStart(5)}%  ${k}`)
    out.push(`${what} profile ${join(dir, file)} (${fmt(total / 1e6, 1)} s sampled), self time:`, ...top(self, 12))
    out.push(`  ${what}, inclusive time of banledger's own functions:`, ...top(inclusive, 10))
  }
  return out
}

// ------------------------------------------------------------------ main

function print(): void {
  const cpu = cpus()
  let nats = '?'
  try { nats = execFileSync(NATS_SERVER, ['--version'], { encoding: 'utf8' }).trim() } catch { /* reported by startNats */ }
  console.log(`\nbanledger bus benchmark: ${cpu[0]?.model ?? '?'} (${cpu.length} cores), node ${process.version}, ${nats}, loopback, JetStream file storage`)
  const load = (l: readonly number[]) => l.map(x => fmt(x, 2)).join(' ')
  console.log(`load average before: ${load(LOAD_BEFORE)}; after: ${load(loadavg())}${LOAD_BEFORE[0] as number > 0.5 ? ' (other work was running: figures are noisier)' : ''}`)
  const table = [{ name: 'figure', value: 'value', target: 'target', verdict: 'result' },
    ...rows.map(r => ({ name: r.name, value: r.value, target: r.target ?? '', verdict: r.met === undefined ? '' : r.met ? 'met' : 'NOT MET' }))]
  const w = (k: 'name' | 'value' | 'target') => Math.max(...table.map(r => r[k].length))
  console.log('')
  for (const r of table) console.log(`${r.name.padEnd(w('name'))}  ${r.value.padEnd(w('value'))}  ${r.target.padEnd(w('target'))}  ${r.verdict}`.trimEnd())
  console.log('\npeer comparison: not applicable (no peer implementation to compare with)')
  console.log('\nwhere the time goes:')
  for (const n of notes) console.log(`  ${n}`)
}

async function main(): Promise<void> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing`)
  if (!existsSync(NATS_SERVER)) throw new Error(`${NATS_SERVER} is not installed (apt-get install nats-server)`)
  const t0 = performance.now()
  if (ONLY === null || ONLY === 'ingest') {
    await ingest(false)
    await ingest(true)
  }
  if (ONLY === null || ONLY === 'nats') await latency('nats')
  if (ONLY === null || ONLY === 'embedded') await latency('embedded')
  print()
  const missed = rows.filter(r => r.met === false)
  console.log(`\n${missed.length === 0 ? 'all targets met' : `targets missed: ${missed.map(r => r.name.trim()).join('; ')}`} (${fmt((performance.now() - t0) / 1000)} s)`)
  process.exitCode = missed.length === 0 ? 0 : 1
}

main().catch(err => {
  if (rows.length > 0) print()
  console.error(err)
  process.exitCode = 1
})
