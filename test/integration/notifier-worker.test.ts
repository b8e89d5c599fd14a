// The notifier worker with its real outbox (LevelDB in a temp dir) and real
// HTTP: webhook channels POST to node:http receivers on 127.0.0.1. S5: one
// channel failing never blocks another; nothing waiting is lost; a crash
// (SIGKILL) re-sends at most the message in flight, under the same key.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import pino from 'pino'
import t, { type Test } from 'tap'
import type { Decision } from '../../ledger/rules/types.js'
import type { Channel, DeliveryResult } from '../../services/notifier/channel.js'
import { NotifierWorker, type NotifierWorkerOptions } from '../../services/notifier/notifier-worker.js'
import { Outbox } from '../../services/notifier/outbox.js'
import { patience } from '../helpers/patience.js'
import { waitFor } from '../helpers/wait-for.js'
import { webhookChannel, WebhookReceiver } from '../helpers/webhook-receiver.js'

const CHILD = new URL('../helpers/notifier-child.ts', import.meta.url).pathname
const T0 = Date.UTC(2024, 0, 1)
const decision = (n: number): Decision => ({
  id: `${n}.0`, type: 'ban', jail: 'ssh', ip: `198.51.100.${n % 250}`, at: T0 + n, until: T0 + n + 3_600_000,
  reason: 'maxretry', seq: n, failures: 3,
})
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => decision(from + i))

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'banledger-notifier-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function receiver(t: Test): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start()
  t.teardown(() => r.close())
  return r
}

/** A worker on a fresh outbox; every channel goes to every decision. Logs are kept in `logs`. */
async function setup(t: Test, channels: Channel[], over: Partial<NotifierWorkerOptions> = {}) {
  const outbox = await Outbox.open(await tempDir(t))
  const logs: { level: number; msg: string }[] = []
  const worker = new NotifierWorker({
    outbox, channels, route: () => channels.map(c => c.name), digestWindow: 0, backoff: { initial: 50, max: 200 },
    logger: pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as { level: number; msg: string }) }),
    now: Date.now, host: 'test', ...over,
  })
  t.teardown(async () => {
    await worker.close()
    for (const c of channels) await c.close()
    await outbox.close()
  })
  worker.start()
  return { outbox, worker, logs }
}

const ids = (r: WebhookReceiver) => r.received.flatMap(m => m.ids)

t.test('a hanging, then failing channel never delays the webhook; its notices wait and all go once it is back', async t => {
  const [up, down] = [await receiver(t), await receiver(t)]
  down.mode = 'hang'
  const hook = webhookChannel('hook', up.url)
  // Hangs longer than the bound below: were onDecisions to wait for
  // delivery, it could not return within it.
  const flaky = webhookChannel('flaky', down.url, patience(3000))
  const { worker } = await setup(t, [hook, flaky])
  const started = performance.now()
  for (let g = 0; g < 4; g++) await worker.onDecisions(range(g * 5, 5))
  t.ok(performance.now() - started < patience(2000), 'onDecisions returns after the synced write, not after delivery')
  await waitFor(() => ids(up).length === 20, { what: 'the webhook to get all 20', timeout: 5000 })
  t.same(ids(up), range(0, 20).map(d => d.id), 'in order, once each, while the other channel hangs')
  t.same(up.received.map(m => m.key), range(0, 20).map(d => `${d.id}/hook`), 'one message per decision, keyed by its entry id')
  t.equal(down.received.length, 0)
  await waitFor(async () => (await worker.status())[0]?.pending === 0, { what: 'the last one marked sent' })
  t.match(await worker.status(), [{ name: 'hook', pending: 0 }, { name: 'flaky', kind: 'webhook', pending: 20, failed: 0, disabled: null }])

  down.mode = 'down'
  await waitFor(() => flaky.attempts >= 3, { what: 'retries against 503', timeout: 3000 })
  t.match(await worker.status(), [{ name: 'hook' }, { name: 'flaky', pending: 20 }], 'nothing dropped while it is down')
  down.mode = 'ok'
  await waitFor(() => ids(down).length === 20, { what: 'the flaky channel to catch up', timeout: 3000 })
  t.same(ids(down), range(0, 20).map(d => d.id), 'every notice once, in order')
  await waitFor(async () => (await worker.status())[1]?.pending === 0, { what: 'the last one marked sent' })
  t.match(await worker.status(), [{ name: 'hook', pending: 0 }, { name: 'flaky', pending: 0, failed: 0 }])
})

t.test('with a digest window, what waited for a down channel goes as digests', async t => {
  const [up, down] = [await receiver(t), await receiver(t)]
  down.mode = 'down'
  const { worker } = await setup(t, [webhookChannel('hook', up.url), webhookChannel('sms', down.url)], { digestWindow: 100 })
  for (let g = 0; g < 6; g++) await worker.onDecisions(range(g * 5, 5))
  await waitFor(() => ids(up).length === 30, { what: 'digests on the working channel', timeout: 2000 })
  t.ok(up.received.length <= 4, `30 notices in ${up.received.length} digests`)
  t.ok(up.received.every(m => m.ids.length <= 20 && (m.ids.length === 1 || m.key.startsWith('digest-'))))
  await waitFor(() => down.requests >= 2, { what: 'attempts on the down channel', timeout: 2000 })
  down.mode = 'ok'
  await waitFor(() => ids(down).length === 30, { what: 'the backlog once it is back', timeout: 3000 })
  t.same([...ids(down)].sort(), range(0, 30).map(d => d.id).sort(), 'every notice once')
  t.ok(down.received.length <= 3, `the backlog folded into ${down.received.length} digests`)
})

/** A channel that answers `result` and counts its calls. */
const fixed = (name: string, result: DeliveryResult): Channel & { calls: number } => {
  const c = { name, kind: 'freemobile' as const, calls: 0, deliver: async () => { c.calls++; return result }, close: async () => {} }
  return c
}

t.test('disabled stops a channel (logged once, its notices kept); failed drops the message and keeps it for status', async t => {
  const up = await receiver(t)
  const sms = fixed('sms', { status: 'disabled', reason: 'HTTP 403: service not enabled or wrong credentials' })
  const bad = fixed('bad', { status: 'failed', reason: 'HTTP 400: a parameter is missing' })
  const { worker, outbox, logs } = await setup(t, [webhookChannel('hook', up.url), sms, bad])
  await worker.onDecisions(range(0, 3))
  await worker.onDecisions(range(3, 3))
  await waitFor(async () => {
    const [hook, disabled, failed] = await worker.status()
    return ids(up).length === 6 && hook?.pending === 0 && disabled?.disabled && failed?.failed === 6
  }, { what: 'the other channels to be done', timeout: 2000 })
  t.equal(sms.calls, 1, 'no attempt after disabled')
  t.match(await worker.status(), [
    { name: 'hook', pending: 0, failed: 0, disabled: null },
    { name: 'sms', pending: 6, failed: 0, disabled: 'HTTP 403: service not enabled or wrong credentials' },
    { name: 'bad', pending: 0, failed: 6, disabled: null },
  ])
  t.equal(logs.filter(l => l.level === 50 && /sms: channel disabled/.test(l.msg)).length, 1, 'disabled is logged once, with the reason')
  t.match((await outbox.failed('bad', 10))[0], { id: '5.0/bad', lastError: 'HTTP 400: a parameter is missing' })
})

t.test('a channel that throws (breaking the port) is retried, and its unredacted error is not logged', async t => {
  let calls = 0
  const broken: Channel = { name: 'sms', kind: 'freemobile', close: async () => {},
    deliver: async () => { calls++; throw new Error('GET https://smsapi.free-mobile.fr/sendmsg?user=1&pass=SECRET failed') } }
  const { worker, logs } = await setup(t, [broken])
  await worker.onDecisions(range(0, 1))
  await waitFor(() => calls >= 2, { what: 'a retry' })
  t.match(await worker.status(), [{ name: 'sms', pending: 1, disabled: null }])
  t.notOk(JSON.stringify(logs).includes('SECRET'), 'the secret is in no log line')
})

t.test('retry waits at least what the channel asked; close() is bounded and idempotent', async t => {
  const hang = await receiver(t)
  hang.mode = 'hang'
  const slow = fixed('sms', { status: 'retry', after: 400, reason: 'HTTP 402: too many SMS' })
  const stuck = webhookChannel('hook', hang.url, 60_000)
  const { worker } = await setup(t, [slow, stuck], { closeTimeout: 200 })
  const start = performance.now()
  await worker.onDecisions(range(0, 2))
  await waitFor(() => slow.calls === 2, { what: 'a second attempt', timeout: 2000 })
  t.ok(performance.now() - start >= 390, `second attempt after ${(performance.now() - start).toFixed(0)} ms (channel asked 400)`)
  await waitFor(() => hang.requests === 1, { what: 'a request in flight' })
  const closing = performance.now()
  await Promise.all([worker.close(), worker.close()])
  t.ok(performance.now() - closing < patience(1000), 'close gave up on the hanging delivery')
  await t.rejects(worker.onDecisions(range(5, 1)), { code: 'BANLEDGER_NOTIFIER_CLOSED' })
  t.match(await worker.status(), [{ name: 'sms', pending: 2 }, { name: 'hook', pending: 2 }], 'what was not confirmed stays pending')
})

t.test('a crash between the send and the mark re-sends that one digest, same notices, same key', async t => {
  const dir = await tempDir(t)
  const hook = await receiver(t)
  const logger = pino({ level: 'silent' })
  const options = { route: () => ['hook'], digestWindow: 50, backoff: { initial: 50, max: 200 }, logger, now: Date.now, host: 'test' }
  // First life: the digest reaches the receiver, then the process "dies" before hearing back.
  const real = webhookChannel('hook', hook.url)
  const dying: Channel = { name: 'hook', kind: 'webhook', close: () => real.close(),
    deliver: async (notices, opts) => { await real.deliver(notices, opts); return new Promise<never>(() => {}) } }
  const first = await Outbox.open(dir)
  const w1 = new NotifierWorker({ ...options, outbox: first, channels: [dying], closeTimeout: 100 })
  w1.start()
  await w1.onDecisions(range(0, 3))
  await waitFor(() => hook.received.length === 1, { what: 'the digest' })
  await w1.close()
  await dying.close()
  await first.close()
  // Second life: more decisions arrive before the restart's first delivery.
  const outbox = await Outbox.open(dir)
  const channel = webhookChannel('hook', hook.url)
  const w2 = new NotifierWorker({ ...options, outbox, channels: [channel] })
  t.teardown(async () => { await w2.close(); await channel.close(); await outbox.close() })
  await w2.onDecisions(range(3, 2))
  w2.start()
  await waitFor(() => hook.received.length === 3, { what: 'the re-sent digest and the new one' })
  const [once, again, next] = hook.received
  t.same(once?.ids, ['0.0', '1.0', '2.0'])
  t.match(once?.key, /^digest-/)
  t.same(again, { ...once, at: again?.at }, 'the same message again, under the same key')
  t.same(next?.ids, ['3.0', '4.0'], 'what came later is another message')
  await waitFor(async () => (await w2.status())[0]?.pending === 0, { what: 'all marked sent' })
})

t.test('SIGKILL at random moments (real signed webhook): every decision arrives, at most twice, a duplicate under its first key', async t => {
  const COUNT = 200
  const KILLS = 5
  for (const window of [0, 30]) {
    const dir = await tempDir(t)
    const hook = await receiver(t)
    hook.secret = 'kill-test-secret' // the child uses the real, signing webhook channel
    hook.delayMs = 2 // a wider window between the receiver's processing and the child's mark
    let kills = 0
    for (let run = 0; run <= KILLS; run++) {
      const child = spawn(process.execPath, ['--import=tsx', CHILD, join(dir, 'outbox'), hook.url, String(window), String(COUNT)],
        { stdio: ['ignore', 'pipe', 'pipe'] })
      let [out, err] = ['', '']
      child.stdout.on('data', (d: Buffer) => { out += d.toString() })
      child.stderr.on('data', (d: Buffer) => { err += d.toString() })
      const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
      t.teardown(() => { child.kill('SIGKILL') })
      const all = () => hook.byDecision().size === COUNT
      if (run < KILLS) {
        // Two requests of this run: the re-sent message of the last run is marked sent.
        const before = hook.requests
        await waitFor(() => hook.requests >= before + 2 || all() || child.exitCode !== null, { what: `window ${window}, run ${run}: deliveries`, timeout: 30_000 })
        await new Promise(resolve => setTimeout(resolve, Math.random() * 100))
        if (child.exitCode === null && !all()) kills++
        child.kill('SIGKILL')
        t.equal(await exited, null, `window ${window}, run ${run}: killed ${err}`)
      } else {
        await waitFor(() => all() && out.includes('idle'), { what: `window ${window}: all ${COUNT} decisions, nothing pending`, timeout: 30_000 })
        child.kill('SIGTERM')
        t.equal(await exited, 0, `window ${window}: clean stop ${err}`)
      }
    }
    const seen = hook.byDecision()
    const twice = [...seen].filter(([, keys]) => keys.length > 1)
    t.same([...seen].filter(([, keys]) => keys.length > 2), [], `window ${window}: no decision arrives more than twice`)
    t.same(twice.filter(([, keys]) => keys.some(k => k !== keys[0])), [], `window ${window}: a duplicate carries its first key`)
    t.equal(hook.badSignatures, 0, `window ${window}: every message carried a valid HMAC`)
    t.comment(`window ${window}: ${kills} kills mid-delivery, ${hook.received.length} messages, ${twice.length} decisions re-sent`)
    const outbox = await Outbox.open(join(dir, 'outbox'))
    t.same(await outbox.stats(Date.now()), new Map(), `window ${window}: the outbox is empty`)
    await outbox.close()
  }
})
