// Free Mobile through the outbox (S1, S5): an HTTPS stand-in with a test CA
// answers 402 (too many SMS) five times, then 200: every ban is reported,
// folded into digests, none lost. A 403 disables the channel with a clear
// error and keeps what waits.
import { createServer } from 'node:https'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import t, { type Test } from 'tap'
import type { Decision } from '../../ledger/rules/types.js'
import { freeMobileChannel } from '../../services/notifier/channels/freemobile.js'
import { NotifierWorker } from '../../services/notifier/notifier-worker.js'
import { Outbox } from '../../services/notifier/outbox.js'
import { makeTestPki } from '../helpers/test-ca.js'
import { waitFor } from '../helpers/wait-for.js'

const ban = (n: number): Decision => ({
  id: `${n}.0`, type: 'ban', jail: 'ssh', ip: `198.51.100.${n}`, at: Date.now(), until: Date.now() + 3_600_000,
  reason: 'maxretry', seq: n, failures: 3,
})

/** A Free Mobile stand-in answering with `statuses` in turn, then 200. */
async function freeMobile(t: Test, statuses: number[]): Promise<{ origin: string; caFile: string; messages: string[]; hits: () => number }> {
  const pki = await makeTestPki(t)
  const messages: string[] = []
  let hits = 0
  const server = createServer({ key: pki.ca.key, cert: pki.ca.cert }, (req, res) => {
    hits++
    const status = statuses.shift() ?? 200
    if (status === 200) messages.push(new URL(req.url ?? '/', 'https://x').searchParams.get('msg') ?? '')
    res.writeHead(status).end()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caFile: pki.ca.caPem, messages, hits: () => hits }
}

async function worker(t: Test, origin: string, ca: string) {
  const dir = await mkdtemp(join(tmpdir(), 'banledger-fm-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const outbox = await Outbox.open(dir)
  const channel = freeMobileChannel({ name: 'sms', user: '12345678', pass: 'secret', baseUrl: origin, extraCa: ca })
  const logs: string[] = []
  const w = new NotifierWorker({
    outbox, channels: [channel], route: () => ['sms'], digestWindow: 0, backoff: { initial: 100, max: 400 },
    logger: pino({ level: 'info' }, { write: (line: string) => { logs.push(line) } }), now: Date.now, host: 'test',
  })
  t.teardown(async () => {
    await w.close()
    await channel.close()
    await outbox.close()
  })
  w.start()
  return { w, logs }
}

t.test('402 five times, then 200: every ban is reported, in digests, none lost', async t => {
  const api = await freeMobile(t, [402, 402, 402, 402, 402])
  const { w } = await worker(t, api.origin, api.caFile)
  const bans = Array.from({ length: 10 }, (_, i) => ban(i + 1))
  await w.onDecisions(bans.slice(0, 4))
  await waitFor(() => api.hits() >= 2, { timeout: 5000, what: 'the first throttled attempts' })
  await w.onDecisions(bans.slice(4))
  await waitFor(() => bans.every(b => api.messages.some(m => m.includes(` ${b.ip} `) || m.endsWith(` ${b.ip} (ssh)`) || m.includes(`${b.ip} (ssh)`))),
    { timeout: 15_000, what: 'every ban in some SMS' })
  t.ok(api.hits() >= 6, `${api.hits()} requests: five 402s, then deliveries`)
  t.ok(api.messages.length < bans.length, `${api.messages.length} SMS for ${bans.length} bans: the backlog went as digests`)
  // The server has every SMS; the outbox marks them sent once its answers are in.
  const status = await waitFor(async () => {
    const s = await w.status()
    return s[0]?.pending === 0 ? s : null
  }, { timeout: 5000, what: 'nothing pending' })
  t.match(status, [{ name: 'sms', pending: 0, failed: 0, disabled: null }])
})

t.test('403 disables the channel with a clear error; what waits is kept', async t => {
  const api = await freeMobile(t, [403, 403, 403])
  const { w, logs } = await worker(t, api.origin, api.caFile)
  await w.onDecisions([ban(1), ban(2)])
  const [row] = await waitFor(async () => {
    const s = await w.status()
    return s[0]?.disabled != null ? s : null
  }, { timeout: 5000, what: 'the channel disabled' })
  t.match(row, { pending: 2, disabled: /wrong credentials or the SMS notification option is not enabled/ })
  t.equal(api.hits(), 1, 'no more attempts once disabled')
  t.ok(logs.some(l => l.includes('"level":50') && l.includes('sms')), 'an error is logged')
  t.notOk(logs.join('').includes('secret'), 'the password is not in the logs')
})
