// What the ledger takes from the events stream (issue 4): garbage (not
// protobuf, the wrong kind of input, absurd times) and forged host claims
// are logged and skipped, never a crash, and the rest flows; in a batch,
// only the forged events are dropped.
import { join } from 'node:path'
import { AckPolicy, connect } from 'nats'
import t, { type Test } from 'tap'
import type { BusInput } from '../../ledger/rules/types.js'
import { parseConfig } from '../../ops/config/load-config.js'
import { encodeInput, encodeLogEventBatch } from '../../proto/wire.js'
import { buildService } from '../../services/run/service.js'
import { captureLogs, logEvent, natsBus, publishedSeq, streamEntries, type Logs } from '../helpers/bus-kit.js'
import { tempDir } from '../helpers/cli.js'
import { requireNatsServer, startNats } from '../helpers/nats-server.js'
import { waitFor } from '../helpers/wait-for.js'

/** A `banledger run --role ledger` service in this process, on `url`; stopped in teardown. */
async function startLedger(t: Test, url: string, logs: Logs): Promise<void> {
  const dir = await tempDir(t)
  const config = parseConfig(`
data_dir: ${join(dir, 'data')}
host: core
ignore_self: false
firewall: { backend: dry-run }
bus: { nats: { servers: [${url}] } }
jails:
  ssh: { filter: sshd, logpath: ${join(dir, 'auth.log')} }
`, join(dir, 'banledger.yaml'), { hostname: 'core' })
  const service = buildService(config, { logger: logs.logger, roles: ['ledger'] })
  t.teardown(() => service.stop())
  await service.start()
}

t.test('garbage and forged claims on the events subjects are dropped with a reason; valid events flow', async t => {
  if (!(await requireNatsServer(t))) return
  const server = await startNats(t)
  const logs = captureLogs('info')
  await startLedger(t, server.url, logs)

  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  const js = nc.jetstream()
  const now = Date.now()
  const subject = 'banledger.events.web1.ssh'
  await js.publish(subject, new TextEncoder().encode('not protobuf at all \u0000\u00ff'), { msgID: 'garbage-1' })
  await js.publish(subject, Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0x0f), { msgID: 'garbage-2' })
  await js.publish(subject, encodeInput({ type: 'operator', action: 'ban', id: 'op-1', jail: 'ssh', ip: '192.0.2.9', at: now, actor: 'x', reason: 'x' }), { msgID: 'op-1' })
  await js.publish(subject, encodeInput(logEvent('web2', '192.0.2.10', now)), { msgID: 'forged-1' })
  await js.publish(subject, encodeInput(logEvent('web1', '192.0.2.11', now, { jail: 'smtp' })), { msgID: 'forged-2' })
  await js.publish(subject, encodeInput(logEvent('web1', '192.0.2.12', 5)), { msgID: 'absurd-1' })
  await js.publish(subject, encodeInput(logEvent('web1', '192.0.2.13', now + 3 * 365 * 86_400_000)), { msgID: 'absurd-2' })
  const good = logEvent('web1', '192.0.2.14', now - 1000)
  await js.publish(subject, encodeInput(good), { msgID: good.id })
  const batch = [logEvent('web1', '192.0.2.15', now - 900), logEvent('web3', '192.0.2.16', now - 800), logEvent('web1', '192.0.2.17', now - 700)]
  await js.publish(subject, encodeLogEventBatch(batch), { msgID: 'batch-1' })

  const jsm = await nc.jetstreamManager()
  await waitFor(async () => await publishedSeq(jsm) >= 3, { what: 'the valid events in the ledger' })
  const entries = await streamEntries(jsm)
  t.match(entries[0]?.cause, { type: 'log', id: good.id, ip: '192.0.2.14', host: 'web1' }, 'the valid event is entry 1')
  t.same(entries.slice(1).map(e => e.cause.type === 'log' ? e.cause.ip : ''), ['192.0.2.15', '192.0.2.17'], 'the batch\'s valid events follow')
  t.same(entries.map(e => e.seq), [1, 2, 3], 'nothing else was stored')
  const text = logs.lines.join('')
  t.match(text, /dropped a message on banledger.events.web1.ssh: not a LogEventBatch/, 'garbage')
  t.match(text, /not a LogEventBatch: LogEventBatch: no events/, 'the wrong kind of input (an operator command is no LogEvent)')
  t.match(text, /claims host \\"web3\\" on the subject of web1/, 'a forged host in a batch')
  t.match(text, /claims host \\"web2\\" on the subject of web1/, 'a forged host')
  t.match(text, /claims jail \\"smtp\\" on the subject of ssh/, 'a forged jail')
  t.equal(text.match(/not a plausible time/g)?.length, 2, 'absurd times')
  const info = await jsm.consumers.info('BANLEDGER_EVENTS', 'ledger')
  t.equal(info.num_ack_pending + info.num_pending, 0, 'every message, dropped or stored, is acknowledged')
})

t.test('events read again in batches cut otherwise are stored once; an older ledger consumer gets the new bound', async t => {
  if (!(await requireNatsServer(t))) return
  const server = await startNats(t)
  // The consumer as an earlier version made it: 50,000 messages in flight.
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  const jsm = await nc.jetstreamManager()
  await jsm.streams.add({ name: 'BANLEDGER_EVENTS', subjects: ['banledger.events.>', 'banledger.commands.>'] })
  await jsm.consumers.add('BANLEDGER_EVENTS', { durable_name: 'ledger', ack_policy: AckPolicy.Explicit, max_ack_pending: 50_000 })
  await startLedger(t, server.url, captureLogs('info'))
  t.equal((await jsm.consumers.info('BANLEDGER_EVENTS', 'ledger')).config.max_ack_pending, 100, 'the bound is in batches now')

  const watcher = await natsBus(t, server, { host: 'web1' })
  const now = Date.now()
  const events = [1, 2, 3, 4].map(i => logEvent('web1', `192.0.2.${i}`, now - 1000 + i))
  await watcher.publishInputs(events.slice(0, 3))
  await watcher.publishInputs(events.slice(1)) // a re-read from the second line on: another batch
  await watcher.publishInputs(events.slice(0, 3)) // the same batch again: the same message id
  await watcher.publishInputs(events.slice(2, 3)) // one event alone: its own id
  await waitFor(async () => await publishedSeq(jsm) >= 4, { what: '4 entries' })
  await waitFor(async () => (await jsm.consumers.info('BANLEDGER_EVENTS', 'ledger')).num_ack_pending === 0, { what: 'every batch acknowledged' })
  t.equal((await jsm.streams.info('BANLEDGER_EVENTS')).state.messages, 3, 'the batch published twice is stored once (the duplicate window)')
  const stored = await streamEntries(jsm)
  t.same(stored.map(e => (e.cause.type === 'log' ? e.cause.ip : '')), events.map(e => e.ip), 'each event once, in order')
  t.same(stored.map(e => e.seq), [1, 2, 3, 4], 'nothing stored twice')
})

t.test('the ledger gets at most 8,000 inputs ahead of its writes (plus a message); the rest waits undecoded, then comes in order, once', async t => {
  if (!(await requireNatsServer(t))) return
  const server = await startNats(t)
  const ledgerBus = await natsBus(t, server, { host: 'core' })
  const handed: BusInput[][] = []
  const stores: (() => void)[] = []
  // The ledger's stores are held until the test lets them go; whatever
  // happens, they go before the teardown closes the bus, which waits for them.
  let released = false
  const releaseAll = (): void => { released = true; for (const store of stores) store() }
  t.teardown(releaseAll)
  await ledgerBus.consumeInputs(inputs => new Promise<void>(resolve => {
    handed.push([...inputs])
    if (released) resolve()
    else stores.push(resolve)
  }))
  const watcher = await natsBus(t, server, { host: 'web1' })
  const now = Date.now()
  const events = Array.from({ length: 15_000 }, (_, i) => logEvent('web1', `2001:db8::${(i + 1).toString(16)}`, now - 60_000 + i))
  const published = watcher.publishInputs(events) // 15 messages of 1,000
  const inLedger = (): number => handed.reduce((n, h) => n + h.length, 0)
  await waitFor(() => inLedger() >= 8000, { what: '8,000 inputs at the ledger', timeout: 10_000 })
  await published
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  const jsm = await nc.jetstreamManager()
  await waitFor(async () => (await jsm.consumers.info('BANLEDGER_EVENTS', 'ledger')).num_ack_pending === 15, { what: 'every message delivered to the ledger process' })
  t.ok(inLedger() <= 9000, `${inLedger()} inputs handed over while none is stored`)
  t.ok(handed.every(h => h.length <= 3000), 'in hand-overs of about 2,000')
  while (inLedger() < events.length) {
    const n = stores.length
    for (const store of stores) store()
    await waitFor(() => stores.length > n || inLedger() === events.length, { what: 'more inputs once some are stored', timeout: 10_000 })
  }
  for (const store of stores) store()
  t.same(handed.flat().map(e => e.id), events.map(e => e.id), 'every input once, in order')
  await waitFor(async () => (await jsm.consumers.info('BANLEDGER_EVENTS', 'ledger')).num_ack_pending === 0, { what: 'every message acknowledged' })
})
