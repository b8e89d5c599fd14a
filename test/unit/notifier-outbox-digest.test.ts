// What the next message of a channel holds, its idempotency key, and the
// retry delay: pure functions over the outbox's due entries.
import t from 'tap'
import { DIGEST_MAX, messageKey, nextMessage, retryDelay } from '../../services/notifier/digest.js'
import type { OutboxEntry } from '../../services/notifier/outbox.js'

const T0 = Date.UTC(2024, 0, 1)
const entry = (n: number, over: Partial<OutboxEntry> = {}): OutboxEntry => ({
  id: `${n}.0/sms`, channel: 'sms', attempts: 0, nextAttemptAt: T0, state: 'pending', lastError: '', createdAt: T0 + n,
  attemptKey: '', lastAttemptAt: 0,
  decision: { id: `${n}.0`, type: 'ban', jail: 'ssh', ip: '198.51.100.1', at: T0, until: T0 + 1, reason: 'maxretry', seq: n, failures: 3 },
  ...over,
})
const entries = (n: number) => Array.from({ length: n }, (_, i) => entry(i))

t.test('messageKey: the entry id for one, a stable hash of the ids for a digest', async t => {
  t.equal(messageKey(['1.0/sms']), '1.0/sms')
  t.match(messageKey(['1.0/sms', '2.0/sms']), /^digest-[0-9a-f]{32}$/)
  t.equal(messageKey(['1.0/sms', '2.0/sms']), messageKey(['1.0/sms', '2.0/sms']))
  t.not(messageKey(['1.0/sms', '2.0/sms']), messageKey(['2.0/sms', '1.0/sms']))
})

t.test('without a digest window: one message per entry, keyed by its id', async t => {
  t.same(nextMessage(entries(3), 0, T0), { send: [entry(0)], key: '0.0/sms' })
  t.throws(() => nextMessage([], 0, T0), TypeError)
})

t.test('with a digest window: wait for the oldest to be old enough, or a full digest', async t => {
  t.same(nextMessage(entries(3), 1000, T0 + 10), { waitUntil: T0 + 1000 })
  const ready = nextMessage(entries(3), 1000, T0 + 1000)
  t.same(ready, { send: entries(3), key: messageKey(entries(3).map(e => e.id)) })
  const full = nextMessage(entries(DIGEST_MAX + 5), 1000, T0)
  t.same('send' in full && full.send.length, DIGEST_MAX, 'a full digest goes at once, at most DIGEST_MAX notices')
  const retried = [entry(0, { attempts: 2, createdAt: T0 - 60_000 }), entry(1)]
  t.match(nextMessage(retried, 1000, T0), { send: retried }, 'a backlog that waited for a retry folds into one digest at once')
})

t.test('entries in flight before a crash go again as the same message, with the same key', async t => {
  const inFlight = [entry(0, { attemptKey: 'digest-k' }), entry(1, { attemptKey: 'digest-k' }), entry(2)]
  t.same(nextMessage(inFlight, 1000, T0), { send: inFlight.slice(0, 2), key: 'digest-k' })
  t.same(nextMessage(inFlight, 0, T0), { send: inFlight.slice(0, 2), key: 'digest-k' }, 'even with the digest turned off since')
  t.same(nextMessage([entry(0, { attemptKey: '0.0/sms' }), entry(1)], 1000, T0), { send: [entry(0, { attemptKey: '0.0/sms' })], key: '0.0/sms' })
})

t.test('retryDelay doubles from initial up to max, and honours the channel', async t => {
  const backoff = { initial: 1000, max: 60_000 }
  t.same([1, 2, 3, 4, 7, 8, 100].map(a => retryDelay(a, backoff, 0)), [1000, 2000, 4000, 8000, 60_000, 60_000, 60_000])
  t.equal(retryDelay(1, backoff, 30_000), 30_000, "the channel's `after` when longer")
  t.equal(retryDelay(0, backoff, 0), 1000)
})
