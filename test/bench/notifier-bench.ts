// Notifier benchmark (not a test): the outbox (real LevelDB, synced writes)
// and the worker delivering to a local webhook receiver (node:http on
// 127.0.0.1, in this process: it shares the event loop with the worker).
//   1. burst: 10,000 decisions handed to onDecisions in groups of 100 as fast
//      as it resolves; throughput until the receiver has them all, and the
//      latency from onDecisions to the receiver (mostly queueing here)
//   2. paced: 1,000 single decisions at 200/s; latency p50/p99
//   3. the same burst with a 100 ms digest window: messages and throughput
//   4. a channel down (HTTP 503) while 100,000 decisions wait for it: RSS
//      before and after enqueueing them, and after 3 s of retries
// npm run bench:notifier (builds, then node dist/test/bench/notifier-bench.js).
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import type { Decision } from '../../ledger/rules/types.js'
import { NotifierWorker } from '../../services/notifier/notifier-worker.js'
import { Outbox } from '../../services/notifier/outbox.js'
import { webhookChannel, WebhookReceiver } from '../helpers/webhook-receiver.js'

const [BURST, GROUP, PACED, PACE_MS, WAITING] = [10_000, 100, 1_000, 5, 100_000]
const logger = pino({ level: 'error' })
const dirs: string[] = []
process.on('exit', () => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130))

type Row = Readonly<{ name: string; value: string }>
let seq = 0
const decision = (): Decision => {
  const n = ++seq
  return { id: `${n}.0`, type: 'ban', jail: 'ssh', ip: `198.51.100.${n % 250}`, at: Date.now(), until: Date.now() + 3_600_000, reason: 'maxretry', seq: n, failures: 3 }
}
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const MiB = (b: number) => `${fmt(b / 2 ** 20)} MiB`
const pct = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN
const ms = (n: number) => `${fmt(n, 1)} ms`

async function rig(digestWindow: number) {
  const dir = mkdtempSync(join(tmpdir(), 'banledger-notifier-bench-'))
  dirs.push(dir)
  const outbox = await Outbox.open(dir)
  const receiver = await WebhookReceiver.start()
  const channel = webhookChannel('hook', receiver.url)
  const worker = new NotifierWorker({
    outbox, channels: [channel], route: () => ['hook'], digestWindow, backoff: { initial: 100, max: 1000 }, logger, now: Date.now, host: 'bench',
  })
  worker.start()
  const fedAt = new Map<string, number>()
  const latencies: number[] = []
  const messages = { n: 0 }
  receiver.onReceive = r => {
    messages.n++
    for (const id of r.ids) latencies.push(r.at - (fedAt.get(id) ?? NaN))
  }
  const feed = async (ds: Decision[]) => {
    const t = performance.now()
    for (const d of ds) fedAt.set(d.id, t)
    await worker.onDecisions(ds)
  }
  const done = async (n: number) => { while (latencies.length < n) await sleep(1) }
  const close = async () => { await worker.close(); await channel.close(); await outbox.close(); await receiver.close() }
  return { feed, done, close, latencies, messages, receiver, worker }
}

async function burst(digestWindow: number): Promise<{ rate: number; p50: number; p99: number; messages: number }> {
  const r = await rig(digestWindow)
  const t0 = performance.now()
  for (let i = 0; i < BURST; i += GROUP) await r.feed(Array.from({ length: GROUP }, decision))
  await r.done(BURST)
  const seconds = (performance.now() - t0) / 1000
  const sorted = [...r.latencies].sort((a, b) => a - b)
  await r.close()
  return { rate: BURST / seconds, p50: pct(sorted, 50), p99: pct(sorted, 99), messages: r.messages.n }
}

async function paced(): Promise<Row[]> {
  const r = await rig(0)
  for (let i = 0; i < PACED; i++) {
    await r.feed([decision()])
    await sleep(PACE_MS)
  }
  await r.done(PACED)
  const sorted = [...r.latencies].sort((a, b) => a - b)
  await r.close()
  return [{ name: `paced: ${fmt(PACED)} single decisions at ${fmt(1000 / PACE_MS)}/s, latency p50 / p99 / max`, value: `${ms(pct(sorted, 50))} / ${ms(pct(sorted, 99))} / ${ms(sorted.at(-1) ?? NaN)}` }]
}

async function memory(): Promise<Row[]> {
  const r = await rig(0)
  r.receiver.mode = 'down'
  const before = process.memoryUsage().rss
  const t0 = performance.now()
  for (let i = 0; i < WAITING; i += 1000) await r.feed(Array.from({ length: 1000 }, decision))
  const enqueueRate = WAITING / ((performance.now() - t0) / 1000)
  const after = process.memoryUsage().rss
  await sleep(3000)
  const later = process.memoryUsage().rss
  const [status] = await r.worker.status()
  const attempts = r.receiver.requests
  await r.close()
  if (status?.pending !== WAITING) throw new Error(`expected ${WAITING} pending, got ${status?.pending}`)
  return [
    { name: `down channel: enqueue ${fmt(WAITING)} (groups of 1,000, synced)`, value: `${fmt(enqueueRate)} decisions/s` },
    { name: `down channel: RSS before / after ${fmt(WAITING)} waiting / after 3 s of retries`, value: `${MiB(before)} / ${MiB(after)} / ${MiB(later)}` },
    { name: '  context: pending / attempts (503) in those 3 s', value: `${fmt(status.pending)} / ${fmt(attempts)}` },
  ]
}

function print(rows: readonly Row[]): void {
  const w = Math.max(...rows.map(r => r.name.length))
  console.log(`\nbanledger notifier bench: ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, node ${process.version}\n`)
  console.log(`${'figure'.padEnd(w)}  result`)
  for (const r of rows) console.log(`${r.name.padEnd(w)}  ${r.value}`)
}

const one = await burst(0)
const digest = await burst(100)
const rows: Row[] = [
  { name: `burst: ${fmt(BURST)} decisions, one message each, throughput`, value: `${fmt(one.rate)} messages/s` },
  { name: '  latency onDecisions -> receiver p50 / p99 (queueing)', value: `${ms(one.p50)} / ${ms(one.p99)}` },
  ...await paced(),
  { name: `burst with a 100 ms digest window: throughput (messages)`, value: `${fmt(digest.rate)} decisions/s (${fmt(digest.messages)})` },
  { name: '  latency p50 / p99', value: `${ms(digest.p50)} / ${ms(digest.p99)}` },
  ...await memory(),
]
print(rows)
