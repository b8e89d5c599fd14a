// services/bus/nats/event-batches.ts: a publish of log events becomes one
// LogEventBatch per events subject, in log order and within the size
// bounds; message ids come from the ids the batch holds; a one-event batch
// is the LedgerInput earlier watchers published.
import { createHash } from 'node:crypto'
import t from 'tap'
import type { BusInput, LogEvent } from '../../ledger/rules/types.js'
import { batchMsgId, outgoingOf } from '../../services/bus/nats/event-batches.js'
import { natsNames } from '../../services/bus/nats/nats-names.js'
import { decodeLogEventBatchFast } from '../../proto/log-event-batch-decoder.js'
import { decodeInput, decodeLogEventBatch, encodeInput, encodeLogEventBatch, wireTypes } from '../../proto/wire.js'
import { T0 } from '../helpers/rules.js'

const names = natsNames({ subjectPrefix: 'banledger', streamPrefix: 'BANLEDGER' })
const event = (n: number, over: Partial<LogEvent> = {}): LogEvent => ({
  type: 'log', kind: 'failure', id: `web1.example.org/7:9:ab/${n * 100}/${over.jail ?? 'ssh'}`, jail: 'ssh', ip: `2001:db8::${n.toString(16)}`,
  at: T0, host: 'web1.example.org', source: '/var/log/auth.log', receivedAt: T0 + 1, ...over,
})

t.test('one message per host and jail, the events in log order; commands one each', async t => {
  const inputs: BusInput[] = [
    event(1), event(2, { jail: 'smtp' }), event(3),
    { type: 'operator', action: 'ban', id: 'op-1', jail: 'ssh', ip: '192.0.2.1', at: T0, actor: 'root', reason: 'r' },
    event(4, { jail: 'smtp' }), event(5),
  ]
  const out = outgoingOf(inputs, names, 'web1.example.org')
  t.same(out.map(m => m.subject), ['banledger.commands.web1~example~org', 'banledger.events.web1~example~org.ssh', 'banledger.events.web1~example~org.smtp'])
  t.same(decodeInput((out[0] as (typeof out)[number]).data), inputs[3])
  t.same(decodeLogEventBatch((out[1] as (typeof out)[number]).data), [event(1), event(3), event(5)])
  t.same(decodeLogEventBatch((out[2] as (typeof out)[number]).data), [event(2, { jail: 'smtp' }), event(4, { jail: 'smtp' })])
  t.ok(out.every(m => m.ack), 'every message is acknowledged')
})

t.test('a one-event batch is byte for byte the LedgerInput, with the event id as message id', async t => {
  const [m] = outgoingOf([event(1)], names, 'web1.example.org')
  t.same(m?.data, encodeInput(event(1)))
  t.equal(m?.msgID, event(1).id)
  t.same(decodeLogEventBatch(encodeInput(event(1))), [event(1)], 'and earlier watchers\' messages decode as a batch')
})

t.test('message ids: the same ids make the same id, other boundaries another', async t => {
  const ids = [1, 2, 3].map(n => event(n).id)
  t.equal(batchMsgId(ids), batchMsgId([...ids]))
  t.not(batchMsgId(ids), batchMsgId(ids.slice(0, 2)))
  t.not(batchMsgId(ids), batchMsgId([ids[0] as string, ids[2] as string, ids[1] as string]))
  t.match(batchMsgId(ids), /^web1\.example\.org\/7:9:ab\/100\/ssh\+2:[A-Za-z0-9_-]{22}$/)
  const hash = createHash('sha256')
  for (const id of ids) hash.update(id).update('\n')
  t.equal(batchMsgId(ids), `${ids[0] as string}+2:${hash.digest('base64url').slice(0, 22)}`, 'sha256 of each id and a newline (as watchers before)')
})

t.test('a batch holds at most 1,000 events and 512 KiB', async t => {
  const many = Array.from({ length: 2500 }, (_, i) => event(i))
  t.same(outgoingOf(many, names, 'web1').map(m => decodeLogEventBatch(m.data).length), [1000, 1000, 500])
  const long = Array.from({ length: 100 }, (_, i) => event(i, { source: `/var/log/${'x'.repeat(4000)}` }))
  const out = outgoingOf(long, names, 'web1')
  t.ok(out.length > 1 && out.every(m => m.data.length <= 512 * 1024), `${out.length} messages, each under the bound`)
  t.same(out.flatMap(m => decodeLogEventBatch(m.data)), long, 'every event once, in order')
})

t.test('a message on an events subject without events is refused', async t => {
  t.throws(() => decodeLogEventBatch(new Uint8Array(0)), { code: 'BANLEDGER_WIRE_INVALID' })
  t.throws(() => decodeLogEventBatch(encodeInput({ type: 'tick', at: T0 })), { code: 'BANLEDGER_WIRE_INVALID' })
})

t.test('the ledger\'s fast decoder reads what the protobufjs one reads, and refuses what it refuses', async t => {
  const { receivedAt: _, ...unstamped } = event(1, { user: 'röot' })
  const batches: LogEvent[][] = [
    [event(1)],
    [unstamped, event(2, { kind: 'success', at: 0, ip: '192.0.2.7' }), event(3, { id: 'é'.repeat(300) })],
    [event(4, { at: 2 ** 53 - 1, receivedAt: 2 ** 40 }), event(5, { at: -1 })],
  ]
  for (const batch of batches) {
    const bytes = encodeLogEventBatch(batch)
    t.same(decodeLogEventBatchFast(bytes), decodeLogEventBatch(bytes))
    t.same(decodeLogEventBatchFast(bytes), batch)
  }
  t.same(decodeLogEventBatchFast(encodeInput(event(1))), [event(1)], 'a LedgerInput of one event')
  // Unknown fields are skipped alike.
  const extra = Uint8Array.from([...encodeLogEventBatch([event(5)]), 0x10, 0x01])
  t.same(decodeLogEventBatchFast(extra), decodeLogEventBatch(extra))
  const garbage = [
    new Uint8Array(0), encodeInput({ type: 'tick', at: T0 }), new TextEncoder().encode('not protobuf at all \u0000\u00ff'),
    Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0x0f), Uint8Array.of(0x0a, 0x02, 0x10, 0x07), // kind 7
    wireTypes.LogEventBatch.encode({ events: [{ id: 'x', kind: 1, at: 2 ** 60 }] }).finish(), Uint8Array.of(0x0a, 0x05, 0x0a, 0x09, 0x61),
  ]
  for (const bytes of garbage) {
    t.throws(() => decodeLogEventBatch(bytes), { code: 'BANLEDGER_WIRE_INVALID' })
    t.throws(() => decodeLogEventBatchFast(bytes), { code: 'BANLEDGER_WIRE_INVALID' }, Buffer.from(bytes).toString('hex'))
  }
})
