// The notifier outbox on a real LevelDB in a temp dir: idempotent enqueue,
// order, due times, sent/failed bookkeeping, bounds, restart, and a backlog
// of 100,000 entries read a page at a time.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import type { Decision } from '../../ledger/rules/types.js'
import { Outbox, OutboxLockedError, type OutboxLimits } from '../../services/notifier/outbox.js'
import { patience } from '../helpers/patience.js'

const T0 = Date.UTC(2024, 0, 1)
const decision = (n: number): Decision => ({
  id: `${n}.0`, type: 'ban', jail: 'ssh', ip: `198.51.100.${n % 250}`, at: T0 + n, until: T0 + n + 3_600_000,
  reason: 'maxretry', seq: n, failures: 3,
})
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => decision(from + i))
const both = () => ['mail', 'sms/fr']

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'banledger-outbox-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function openOutbox(t: Test, dir?: string, limits?: OutboxLimits): Promise<Outbox> {
  const box = await Outbox.open(dir ?? await tempDir(t), limits)
  t.teardown(() => box.close())
  return box
}

t.test('enqueue stores one entry per decision and channel, once', async t => {
  const box = await openOutbox(t)
  t.equal(await box.enqueue(range(1, 3), both, T0), 6)
  t.equal(await box.enqueue([decision(2), decision(2), decision(4)], both, T0), 2, 'known ids skipped, duplicates in a call stored once')
  const concurrent = await Promise.all([box.enqueue([decision(5)], both, T0), box.enqueue([decision(5)], both, T0)])
  t.same(concurrent, [2, 2], 'concurrent calls share one batch and see one stored pair')
  const mail = await box.due('mail', T0, 100)
  t.same(mail.map(e => e.id), ['1.0/mail', '2.0/mail', '3.0/mail', '4.0/mail', '5.0/mail'], 'creation order')
  t.match(mail[0], { channel: 'mail', attempts: 0, nextAttemptAt: T0, state: 'pending', lastError: '', createdAt: T0, attemptKey: '' })
  t.same(mail[0]?.decision, decision(1), 'the decision round-trips')
  t.same((await box.due('sms/fr', T0, 2)).map(e => e.id), ['1.0/sms/fr', '2.0/sms/fr'], 'a channel name with a slash has its own range')
  t.same(await box.due('sms', T0, 10), [], 'no prefix collision')
  await box.markSent(['1.0/mail'])
  t.equal(await box.enqueue([decision(1)], both, T0), 0, 'a sent entry is not stored again')
})

t.test('due returns due entries in order and stops at one that waits', async t => {
  const box = await openOutbox(t)
  await box.enqueue(range(1, 2), () => ['mail'], T0)
  await box.enqueue(range(3, 2), () => ['mail'], T0 + 1000)
  t.same((await box.due('mail', T0, 10)).map(e => e.decision.id), ['1.0', '2.0'], 'later ones are not due yet')
  t.equal(await box.nextAttemptAt('mail'), T0)
  await box.markAttempt(['1.0/mail'], 'k1', T0)
  await box.reschedule(['1.0/mail'], T0 + 5000, 'HTTP 503')
  t.same(await box.due('mail', T0 + 2000, 10), [], 'head-of-line: nothing overtakes a retry')
  t.equal(await box.nextAttemptAt('mail'), T0 + 5000)
  const again = await box.due('mail', T0 + 5000, 10)
  t.same(again.map(e => e.decision.id), ['1.0', '2.0', '3.0', '4.0'])
  t.match(again[0], { attempts: 1, nextAttemptAt: T0 + 5000, lastError: 'HTTP 503', attemptKey: '', lastAttemptAt: T0 })
  t.equal(await box.nextAttemptAt('other'), null)
})

t.test('markAttempt records the key of the message in flight; it survives a restart', async t => {
  const dir = await tempDir(t)
  const box = await Outbox.open(dir)
  await box.enqueue(range(1, 3), () => ['mail'], T0)
  await box.markAttempt(['1.0/mail', '2.0/mail'], 'digest-x', T0 + 1)
  await box.close()
  const reopened = await openOutbox(t, dir)
  const due = await reopened.due('mail', T0 + 2, 10)
  t.same(due.map(e => [e.id, e.attemptKey, e.attempts]), [['1.0/mail', 'digest-x', 1], ['2.0/mail', 'digest-x', 1], ['3.0/mail', '', 0]])
  t.equal(await reopened.enqueue(range(1, 3), () => ['mail'], T0), 0, 'still idempotent after a restart')
})

t.test('markSent removes entries; markFailed keeps them, bounded per channel', async t => {
  const dir = await tempDir(t)
  const box = await Outbox.open(dir, { keepFailed: 3 })
  await box.enqueue(range(1, 6), both, T0)
  await box.markSent(['1.0/mail', '2.0/mail', 'unknown/mail'])
  await box.markSent(['1.0/mail'])
  t.same((await box.due('mail', T0, 10)).map(e => e.decision.id), ['3.0', '4.0', '5.0', '6.0'], 'sent ones are gone; marking twice is a no-op')
  await box.markFailed(['3.0/mail', '4.0/mail'], 'HTTP 400')
  await box.markFailed(['5.0/mail', '6.0/mail'], 'HTTP 400 again')
  t.same(await box.due('mail', T0, 10), [])
  const failed = await box.failed('mail', 10)
  t.same(failed.map(e => e.decision.id), ['6.0', '5.0', '4.0'], 'the last 3 failed, newest first')
  t.match(failed[0], { state: 'failed', lastError: 'HTTP 400 again' })
  t.same(await box.stats(T0 + 10), new Map([
    ['mail', { pending: 0, failed: 3, oldestPendingAge: null }],
    ['sms/fr', { pending: 6, failed: 0, oldestPendingAge: 10 }],
  ]))
  t.equal(await box.enqueue(range(3, 4), () => ['mail'], T0), 0, 'failed and dropped ids are not stored again')
  await box.close()
  const reopened = await openOutbox(t, dir, { keepFailed: 3 })
  t.same(await reopened.stats(T0 + 10), new Map([
    ['mail', { pending: 0, failed: 3, oldestPendingAge: null }],
    ['sms/fr', { pending: 6, failed: 0, oldestPendingAge: 10 }],
  ]), 'counts are the same after a restart')
})

t.test('finished ids are remembered, bounded (keepDone)', async t => {
  const box = await openOutbox(t, undefined, { keepDone: 10 })
  await box.enqueue(range(1, 30), () => ['mail'], T0)
  await box.markSent(range(1, 30).map(d => `${d.id}/mail`))
  t.equal(await box.enqueue(range(21, 10), () => ['mail'], T0), 0, 'the last 10 sent are remembered')
  t.equal(await box.enqueue(range(1, 10), () => ['mail'], T0), 10, 'older ones are forgotten: the ids index stays bounded')
})

t.test('a second process cannot open the same outbox', async t => {
  const dir = await tempDir(t)
  await openOutbox(t, dir)
  await t.rejects(Outbox.open(dir), OutboxLockedError)
  await t.rejects(Outbox.open(dir), { code: 'BANLEDGER_OUTBOX_LOCKED' })
})

t.test('100,000 pending entries: due() reads one page, memory stays flat', async t => {
  const box = await openOutbox(t)
  const rss0 = process.memoryUsage().rss
  for (let i = 0; i < 100; i++) await box.enqueue(range(1 + i * 1000, 1000), () => ['down'], T0 + i)
  const rss1 = process.memoryUsage().rss
  t.match(await box.stats(T0 + 1000), new Map([['down', { pending: 100_000, failed: 0, oldestPendingAge: 1000 }]]))
  const start = performance.now()
  const page = await box.due('down', T0 + 1000, 20)
  const ms = performance.now() - start
  t.same(page.map(e => e.decision.seq), Array.from({ length: 20 }, (_, i) => i + 1), 'the oldest 20, in order')
  t.ok(ms < patience(50), `due(20) took ${ms.toFixed(1)} ms`)
  for (let i = 0; i < 200; i++) await box.due('down', T0 + 1000, 20)
  const rss2 = process.memoryUsage().rss
  const MiB = (b: number) => (b / 2 ** 20).toFixed(0)
  t.comment(`RSS ${MiB(rss0)} -> ${MiB(rss1)} MiB after 100,000 enqueued, ${MiB(rss2)} MiB after 200 reads`)
  t.ok(rss1 - rss0 < 128 * 2 ** 20, 'enqueueing 100,000 keeps none of them in memory')
  t.ok(rss2 - rss1 < 32 * 2 ** 20, 'reading pages does not grow')
})
