// Child process for the notifier's kill -9 test: an outbox, a worker and the
// real webhook channel (HMAC-signed, secret "kill-test-secret") to the test's receiver, fed with decisions d0..d<COUNT-1>
// in small groups (every run feeds them all again: enqueue is idempotent).
// Prints "ready" once it handles SIGTERM (a clean close, exit 0), "fed" once
// all decisions are stored, "idle" once nothing is pending any more.
// Usage: node --import tsx notifier-child.ts OUTBOX_DIR URL DIGEST_WINDOW_MS COUNT
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import type { Decision } from '../../ledger/rules/types.js'
import { NotifierWorker } from '../../services/notifier/notifier-worker.js'
import { Outbox } from '../../services/notifier/outbox.js'
import { webhookChannel } from '../../services/notifier/channels/webhook.js'
import { patience } from './patience.js'

const [dir, url, windowMs, count] = process.argv.slice(2)
if (dir === undefined || url === undefined || windowMs === undefined || count === undefined) {
  throw new TypeError('usage: notifier-child OUTBOX_DIR URL DIGEST_WINDOW_MS COUNT')
}

const T0 = Date.UTC(2024, 0, 1)
const decision = (n: number): Decision => ({
  id: `d${n}`, type: n % 5 === 4 ? 'unban' : 'ban', jail: 'ssh', ip: `198.51.100.${n % 250}`,
  at: T0 + n, until: n % 5 === 4 ? 0 : T0 + n + 3_600_000, reason: n % 5 === 4 ? 'expired' : 'maxretry', seq: n + 1, failures: 3,
})

const outbox = await Outbox.open(dir)
const hook = webhookChannel({ name: 'hook', url, secret: 'kill-test-secret', timeout: patience(2000), now: Date.now })
const worker = new NotifierWorker({
  outbox, channels: [hook], route: () => ['hook'], digestWindow: Number(windowMs),
  backoff: { initial: 20, max: 200 }, logger: pino({ level: 'warn' }, pino.destination(2)), now: Date.now, host: 'child',
})
const keepAlive = setInterval(() => {}, 1000)
process.on('SIGTERM', () => {
  void (async () => {
    await worker.close()
    await hook.close()
    await outbox.close()
    clearInterval(keepAlive)
    process.exit(0)
  })()
})

process.stdout.write('ready\n')
worker.start()
const total = Number(count)
for (let n = 0; n < total;) {
  const group: Decision[] = []
  const size = 1 + Math.floor(Math.random() * 5)
  for (let i = 0; i < size && n < total; i++, n++) group.push(decision(n))
  await worker.onDecisions(group)
  await sleep(2)
}
process.stdout.write('fed\n')
while ((await worker.status()).some(s => s.pending > 0)) await sleep(20)
process.stdout.write('idle\n')
