// An example third-party subscriber: it knows banledger only by its wire
// contract (proto/banledger.proto) and the stream BANLEDGER_DECISIONS, and
// prints the bans issued per jail each time the count changes.
//
//   node dist/ops/examples/count-bans.js [NATS_URL] [START_SEQ]
//
// NATS_URL: also from $NATS_URL; default nats://127.0.0.1:4222. START_SEQ:
// the decisions stream's sequence to start from (default: its first).
import { connect } from 'nats'
import protobuf from 'protobufjs'

const args = process.argv.slice(2)
const url = args.find(a => a.includes('://')) ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222'
const start = Number(args.find(a => /^\d+$/.test(a)) ?? 1)

// The contract, loaded as any protobuf user would (dist/proto has a copy).
const root = await protobuf.load(new URL('../../proto/banledger.proto', import.meta.url).pathname)
const Decision = root.lookupType('banledger.v1.Decision')

const nc = await connect({ servers: url })
// An ordered consumer: ephemeral, no acknowledgements, in stream order.
const consumer = await nc.jetstream().consumers.get('BANLEDGER_DECISIONS', { opt_start_seq: start })
const messages = await consumer.consume()
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => messages.stop())
const bans = new Map<string, number>()
for await (const m of messages) {
  const d = Decision.toObject(Decision.decode(m.data), { enums: String, longs: Number }) as { id: string; type: string; jail: string }
  if (d.type !== 'DECISION_TYPE_BAN') continue
  bans.set(d.jail, (bans.get(d.jail) ?? 0) + 1)
  console.log(`after decision ${d.id}: ${[...bans].map(([jail, n]) => `${jail}=${n}`).join(' ')}`)
}
await nc.close()
