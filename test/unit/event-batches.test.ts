// services/bus/nats/event-batches.ts: a publish of log events becomes one
// LogEventBatch per events subject, in log order and within the size
// bounds; message ids come from the ids the batch holds; a one-event batch
// is the LedgerInput earlier watchers published.
import t from 'tap'
import type { BusInput, LogEvent } from '../../ledger/rules/types.js'
import { batchMsgId, outgoingOf } from '../../services/bus/nats/event-batches.js'
import { natsNames } from '../../services/bus/nats/nats-names.js'
import { decodeInput, decodeLogEventBatch, encodeInput } from '../../proto/wire.js'
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
