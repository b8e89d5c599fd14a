// The ledger stream in chunks (ledger-publisher.ts, ledger-messages.ts):
// the publisher packs consecutive entries into LedgerChunk messages (at
// most CHUNK_MAX_ENTRIES each), expects the stream's last sequence as it counts
// it, and after a restart resumes from the last entry of the stream's last
// message, with no entry or decision twice; it also resumes after a stream
// written before chunks (one LedgerEntry per message); a stream ahead of
// the ledger is refused (BANLEDGER_BUS_DIVERGED).
import { connect, headers, type JetStreamManager, type NatsConnection } from 'nats'
import t, { type Test } from 'tap'
import { decisionsOf } from '../../ledger/rules/decisions.js'
import { decodeDecision, encodeDecision, encodeEntry } from '../../proto/wire.js'
import { CHUNK_MAX_ENTRIES } from '../../proto/ledger-chunk.js'
import { MemoryFeed, natsBus, publishedSeq, streamEntries } from '../helpers/bus-kit.js'
import { requireNatsServer, startNats, type NatsServer } from '../helpers/nats-server.js'
import { waitFor } from '../helpers/wait-for.js'

const T0 = Date.UTC(2026, 10, 2, 10)
const ips = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => `10.${(from + i) >> 16 & 255}.${(from + i) >> 8 & 255}.${(from + i) & 255}`)

async function decisionIds(jsm: JetStreamManager): Promise<string[]> {
  const { state } = await jsm.streams.info('BANLEDGER_DECISIONS')
  const out: string[] = []
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    out.push(decodeDecision((await jsm.streams.getMessage('BANLEDGER_DECISIONS', { seq })).data).id)
  }
  return out
}

/** A nats-server of the test's own and a connection to it; null (the test
 *  skips) without nats-server. */
async function freshServer(t: Test): Promise<{ server: NatsServer; nc: NatsConnection; jsm: JetStreamManager } | null> {
  if (!(await requireNatsServer(t))) return null
  const server = await startNats(t)
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  return { server, nc, jsm: await nc.jetstreamManager() }
}

t.test('entries go out in chunks, and a new publisher resumes after the last one: each entry and decision once', async t => {
  const fresh = await freshServer(t)
  if (fresh === null) return
  const { server, jsm } = fresh
  const feed = new MemoryFeed()
  feed.commitBans(ips(0, 2500), T0) // before the publisher starts: read back from the feed
  const first = await natsBus(t, server, { host: 'core' })
  await first.publishLedger(feed)
  await waitFor(async () => await publishedSeq(jsm) === 2500, { what: '2,500 entries in the stream', timeout: 20_000 })
  const { state } = await jsm.streams.info('BANLEDGER_LEDGER')
  t.equal(state.messages, Math.ceil(2500 / CHUNK_MAX_ENTRIES), `in messages of at most ${CHUNK_MAX_ENTRIES} entries`)
  t.equal((await jsm.streams.getMessage('BANLEDGER_LEDGER', { seq: 1 })).header?.get('Nats-Msg-Id') ?? '', '', 'no message id: the expected last sequence orders them')
  await first.close()

  const second = await natsBus(t, server, { host: 'core' })
  await second.publishLedger(feed)
  feed.commitBans(ips(2500, 10), T0 + 1)
  feed.commitBans(ips(2510, 5), T0 + 2)
  await waitFor(async () => await publishedSeq(jsm) === 2515, { what: 'the later entries in the stream', timeout: 20_000 })
  const entries = await streamEntries(jsm)
  t.same(entries.map(e => e.seq), Array.from({ length: 2515 }, (_, i) => i + 1), 'every entry once, in order')
  t.same(entries, feed.entries, 'as committed')
  t.same(await decisionIds(jsm), feed.entries.flatMap(decisionsOf).map(d => d.id), 'every decision once, in order')
})

t.test('after a stream written one entry per message, with some decisions of later entries out: the publisher goes on from there', async t => {
  const fresh = await freshServer(t)
  if (fresh === null) return
  const { server, nc, jsm } = fresh
  const feed = new MemoryFeed()
  feed.commitBans(ips(0, 8), T0)
  // As the version before chunks published: entry 1..5, one per message,
  // its sequence as message id, expecting its own sequence minus one; and
  // the decisions of entries 1..7 (those of 6 and 7 out before their entries).
  await jsm.streams.add({ name: 'BANLEDGER_LEDGER', subjects: ['banledger.ledger'] })
  await jsm.streams.add({ name: 'BANLEDGER_DECISIONS', subjects: ['banledger.decisions.>'] })
  const js = nc.jetstream()
  for (const e of feed.entries.slice(0, 5)) {
    const h = headers()
    h.set('Nats-Msg-Id', String(e.seq))
    await js.publish('banledger.ledger', encodeEntry(e), { headers: h, expect: { lastSequence: e.seq - 1 } })
  }
  for (const d of feed.entries.slice(0, 7).flatMap(decisionsOf)) await js.publish(`banledger.decisions.${d.jail}`, encodeDecision(d), { msgID: d.id })

  const bus = await natsBus(t, server, { host: 'core' })
  await bus.publishLedger(feed)
  await waitFor(async () => await publishedSeq(jsm) === 8, { what: 'entries 6 to 8', timeout: 10_000 })
  t.same(await streamEntries(jsm), feed.entries, 'old messages then a chunk, read alike')
  t.equal((await jsm.streams.info('BANLEDGER_LEDGER')).state.messages, 6, 'entries 6 to 8 in one message')
  await waitFor(async () => (await decisionIds(jsm)).length >= 8, { what: 'the decision of entry 8', timeout: 10_000 })
  t.same(await decisionIds(jsm), feed.entries.flatMap(decisionsOf).map(d => d.id), 'the decisions of 6 and 7 not again')
})

t.test('a ledger stream ahead of the ledger is refused: BANLEDGER_BUS_DIVERGED', async t => {
  const fresh = await freshServer(t)
  if (fresh === null) return
  const { server, jsm } = fresh
  const ahead = new MemoryFeed()
  ahead.commitBans(ips(0, 30), T0)
  await (await natsBus(t, server, { host: 'core' })).publishLedger(ahead)
  await waitFor(async () => await publishedSeq(jsm) === 30, { what: '30 entries in the stream', timeout: 10_000 })
  t.equal((await jsm.streams.info('BANLEDGER_LEDGER')).state.last_seq, 1, 'one message')

  const behind = new MemoryFeed()
  behind.commitBans(ips(0, 29), T0)
  await t.rejects((await natsBus(t, server, { host: 'core2' })).publishLedger(behind),
    { code: 'BANLEDGER_BUS_DIVERGED', message: /holds ledger entries up to 30, this ledger only up to 29/ })
  behind.commitBans(ips(29, 1), T0)
  await t.resolves((await natsBus(t, server, { host: 'core3' })).publishLedger(behind), 'level with it: accepted')
})
