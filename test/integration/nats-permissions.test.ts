// ops/nats/single.conf as is (TLS, one user per role from users.conf)
// against nats.js: each role can do its job, and the server refuses what it
// must not do. nats.js reports a refused publish as an -ERR "Permissions
// Violation": a request (js.publish, every JetStream API call) rejects with
// code PERMISSIONS_VIOLATION, a plain publish or subscribe only shows in
// nc.status(). Each refusal is asserted as such (no waiting for timeouts),
// and where a stream could have been written, that nothing landed in it.
import t, { type Test } from 'tap'
import { AckPolicy, ErrorCode, Events, RequestStrategy, StringCodec } from 'nats'
import type { NatsConnection, Status } from 'nats'
import { connectAs, requireNatsServer, startSecuredNats } from '../helpers/nats-server.js'
import type { NatsUser } from '../helpers/nats-server.js'
import { waitFor } from '../helpers/wait-for.js'

const sc = StringCodec()
const FAST = { timeout: 2000 }
const DECISIONS_FILTER = 'banledger.decisions.>'
const SNAPSHOT = Array.from({ length: 25 }, (_, i) => `ban ${i + 1}`)

if (await requireNatsServer(t)) {
  const nats = await startSecuredNats(t)

  // The ledger sets the bus up: the three streams, its consumer, and a
  // snapshot responder (25 messages and the empty end marker: allow_responses
  // lets it send more than one; it answers inboxes only, see the known gaps).
  const ledger = await connectAs(t, nats, 'ledger')
  const jsm = await ledger.jetstreamManager()
  await jsm.streams.add({ name: 'BANLEDGER_EVENTS', subjects: ['banledger.events.>', 'banledger.commands.>'] })
  await jsm.streams.add({ name: 'BANLEDGER_LEDGER', subjects: ['banledger.ledger'] })
  await jsm.streams.add({ name: 'BANLEDGER_DECISIONS', subjects: ['banledger.decisions.>'] })
  await jsm.consumers.add('BANLEDGER_EVENTS', { durable_name: 'ledger', ack_policy: AckPolicy.Explicit })
  const ljs = ledger.jetstream()
  let ledgerSeq = 0
  const appendLedger = async (text: string) => {
    const ack = await ljs.publish('banledger.ledger', sc.encode(text), { msgID: `entry-${ledgerSeq + 1}`, expect: { lastSequence: ledgerSeq } })
    ledgerSeq = ack.seq
  }
  const decide = (jail: string, text: string) => ljs.publish(`banledger.decisions.${jail}`, sc.encode(text), { msgID: text })
  ledger.subscribe('banledger.snapshot', {
    callback: (_err, m) => {
      if (!m.reply?.startsWith('_INBOX.')) return
      for (const part of SNAPSHOT) m.respond(sc.encode(part))
      m.respond()
    },
  })
  await ledger.flush()

  const count = async (stream: string) => (await jsm.streams.info(stream)).state.messages
  const counts = async () => ({
    BANLEDGER_EVENTS: await count('BANLEDGER_EVENTS'),
    BANLEDGER_LEDGER: await count('BANLEDGER_LEDGER'),
    BANLEDGER_DECISIONS: await count('BANLEDGER_DECISIONS'),
  })

  /** Connects as `user`; the returned list fills with its status events. */
  const login = async (t: Test, user: NatsUser) => {
    const nc = await connectAs(t, nats, user)
    const status: Status[] = []
    void (async () => { for await (const s of nc.status()) status.push(s) })()
    return { nc, status, js: nc.jetstream(FAST), jsm: await nc.jetstreamManager({ ...FAST, checkAPI: false }) }
  }

  /** `p` (a request) rejects as a permissions violation. */
  const refused = (t: Test, p: Promise<unknown>, what: string) =>
    t.rejects(p, { code: ErrorCode.PermissionsViolation }, `refused: ${what}`)

  /** A plain publish (or subscribe) to `subject` draws a permissions
   *  violation in the connection's status. */
  const violation = (status: Status[], operation: 'publish' | 'subscription', subject: string) => waitFor(
    () => status.find((s) => s.type === Events.Error && s.data === ErrorCode.PermissionsViolation
      && s.permissionContext?.operation === operation && s.permissionContext.subject === subject),
    { what: `a ${operation} violation for ${subject}`, timeout: 2000 })

  const snapshot = async (nc: NatsConnection) => {
    const replies = await nc.requestMany('banledger.snapshot', undefined, { maxWait: 2000, strategy: RequestStrategy.SentinelMsg })
    const parts: string[] = []
    for await (const m of replies) if (m.data.length > 0) parts.push(sc.decode(m.data))
    return parts
  }

  t.test('watcher-web1 publishes its own events, and nothing else', async (t) => {
    const { nc, status, js, jsm: wjsm } = await login(t, 'watcher-web1')
    const before = await counts()
    const ack = await js.publish('banledger.events.web1.ssh', sc.encode('{"type":"log"}'), { msgID: 'web1-1', ...FAST })
    t.match(ack, { stream: 'BANLEDGER_EVENTS', duplicate: false }, 'pub ack from BANLEDGER_EVENTS')

    for (const subject of ['banledger.events.web2.ssh', 'banledger.decisions.ssh', 'banledger.ledger', 'banledger.commands.x']) {
      await refused(t, js.publish(subject, sc.encode('forged'), FAST), `js.publish to ${subject}`)
    }
    nc.publish('banledger.ledger', sc.encode('forged'))
    await violation(status, 'publish', 'banledger.ledger')

    await refused(t, wjsm.streams.delete('BANLEDGER_LEDGER'), 'stream delete')
    await refused(t, wjsm.streams.purge('BANLEDGER_EVENTS'), 'stream purge')
    await refused(t, wjsm.consumers.delete('BANLEDGER_EVENTS', 'ledger'), 'consumer delete')
    await refused(t, wjsm.streams.add({ name: 'ROGUE', subjects: ['rogue.>'] }), 'stream create')

    // Reading the ledger: neither through JetStream nor by subscribing.
    await refused(t, js.consumers.get('BANLEDGER_LEDGER', { opt_start_seq: 1 }), 'ordered consumer on BANLEDGER_LEDGER')
    nc.subscribe('banledger.ledger')
    await violation(status, 'subscription', 'banledger.ledger')
    nc.subscribe('_INBOX.web2.>')
    await violation(status, 'subscription', '_INBOX.web2.>')

    t.same(await counts(), { ...before, BANLEDGER_EVENTS: before.BANLEDGER_EVENTS + 1 }, 'only the web1 event landed')
    t.ok(await jsm.streams.info('BANLEDGER_LEDGER'), 'BANLEDGER_LEDGER is still there')
  })

  t.test('firewall-web1 reads decisions through its durable and asks for snapshots, and nothing else', async (t) => {
    const { nc, status, js, jsm: fjsm } = await login(t, 'firewall-web1')
    const before = await counts()
    const ci = await fjsm.consumers.add('BANLEDGER_DECISIONS', {
      durable_name: 'firewall-web1', ack_policy: AckPolicy.Explicit, filter_subject: DECISIONS_FILTER,
    })
    t.equal(ci.name, 'firewall-web1')
    await decide('ssh', 'ban 192.0.2.1')
    const consumer = await js.consumers.get('BANLEDGER_DECISIONS', 'firewall-web1')
    const m = await consumer.next({ expires: 2000 })
    t.equal(m?.subject, 'banledger.decisions.ssh')
    t.equal(m === null ? null : sc.decode(m.data), 'ban 192.0.2.1')
    t.equal(await m?.ackAck(FAST), true, 'acked')
    t.same(await snapshot(nc), SNAPSHOT, 'the snapshot, in several messages')

    await refused(t, fjsm.consumers.add('BANLEDGER_DECISIONS', {
      durable_name: 'firewall-web2', ack_policy: AckPolicy.Explicit, filter_subject: DECISIONS_FILTER,
    }), "creating web2's durable")
    await refused(t, fjsm.consumers.info('BANLEDGER_DECISIONS', 'notifier'), "the notifier's durable")
    await refused(t, js.consumers.get('BANLEDGER_DECISIONS', 'notifier'), "reading the notifier's durable")
    await refused(t, fjsm.consumers.delete('BANLEDGER_DECISIONS', 'firewall-web1'), 'deleting its own durable')
    for (const subject of ['banledger.decisions.ssh', 'banledger.events.web1.ssh', 'banledger.commands.x', 'banledger.ledger']) {
      await refused(t, js.publish(subject, sc.encode('forged'), FAST), `js.publish to ${subject}`)
    }
    nc.publish('banledger.decisions.ssh', sc.encode('forged'))
    await violation(status, 'publish', 'banledger.decisions.ssh')
    t.same(await counts(), { ...before, BANLEDGER_DECISIONS: before.BANLEDGER_DECISIONS + 1 }, "only the ledger's decision landed")
  })

  t.test('notifier uses its durable, and nothing else', async (t) => {
    const { js, jsm: njsm } = await login(t, 'notifier')
    await njsm.consumers.add('BANLEDGER_DECISIONS', { durable_name: 'notifier', ack_policy: AckPolicy.Explicit, filter_subject: DECISIONS_FILTER })
    await decide('web', 'ban 192.0.2.2')
    const consumer = await js.consumers.get('BANLEDGER_DECISIONS', 'notifier')
    const seen: string[] = []
    for await (const m of await consumer.fetch({ max_messages: 10, expires: 1000 })) {
      seen.push(sc.decode(m.data))
      m.ack()
    }
    t.same(seen, ['ban 192.0.2.1', 'ban 192.0.2.2'], 'every decision so far')
    t.equal((await njsm.consumers.info('BANLEDGER_DECISIONS', 'notifier')).num_ack_pending, 0, 'acked')

    await refused(t, njsm.consumers.add('BANLEDGER_DECISIONS', { durable_name: 'firewall-web1', ack_policy: AckPolicy.Explicit }), 'a firewall durable')
    await refused(t, js.consumers.get('BANLEDGER_LEDGER', { opt_start_seq: 1 }), 'reading BANLEDGER_LEDGER')
    await refused(t, js.publish('banledger.decisions.ssh', sc.encode('forged'), FAST), 'publishing a decision')
  })

  t.test('operator sends commands and reads the ledger and the decisions from a sequence, and nothing else', async (t) => {
    const { nc, status, js, jsm: ojsm } = await login(t, 'operator')
    for (const entry of ['entry 1', 'entry 2', 'entry 3']) await appendLedger(entry)
    const ack = await js.publish('banledger.commands.alice', sc.encode('{"type":"unban"}'), { msgID: 'cmd-1', ...FAST })
    t.match(ack, { stream: 'BANLEDGER_EVENTS' }, 'a command, acked')
    t.same(await snapshot(nc), SNAPSHOT, 'a snapshot')
    t.equal((await ojsm.streams.info('BANLEDGER_LEDGER')).state.last_seq, ledgerSeq, 'stream info')

    const fromTwo = await js.consumers.get('BANLEDGER_LEDGER', { opt_start_seq: 2 })
    const entries: string[] = []
    for await (const m of await fromTwo.fetch({ max_messages: 2, expires: 2000 })) entries.push(`${m.seq} ${sc.decode(m.data)}`)
    t.same(entries, ['2 entry 2', '3 entry 3'], 'BANLEDGER_LEDGER from sequence 2 (ordered consumer)')
    const decisions = await js.consumers.get('BANLEDGER_DECISIONS', { opt_start_seq: 1, filterSubjects: 'banledger.decisions.web' })
    const m = await decisions.next({ expires: 2000 })
    t.equal(m === null ? null : sc.decode(m.data), 'ban 192.0.2.2', 'BANLEDGER_DECISIONS, one jail (ordered consumer)')

    // Its info is allowed; a pull from it is a plain publish, refused.
    const notifier = await js.consumers.get('BANLEDGER_DECISIONS', 'notifier')
    t.equal(await notifier.next({ expires: 1000 }).catch(() => null), null, "nothing from the notifier's durable")
    await violation(status, 'publish', '$JS.API.CONSUMER.MSG.NEXT.BANLEDGER_DECISIONS.notifier')
    await refused(t, ojsm.consumers.delete('BANLEDGER_DECISIONS', 'firewall-web1'), "deleting a firewall's durable")
    await refused(t, ojsm.consumers.add('BANLEDGER_DECISIONS', { durable_name: 'notifier', ack_policy: AckPolicy.None }), "redefining the notifier's durable")
    await refused(t, ojsm.streams.purge('BANLEDGER_LEDGER'), 'purging the ledger')
    await refused(t, ojsm.streams.info('BANLEDGER_EVENTS'), 'BANLEDGER_EVENTS')
    await refused(t, js.publish('banledger.ledger', sc.encode('forged'), FAST), 'appending to the ledger')
    await refused(t, js.publish('banledger.decisions.ssh', sc.encode('forged'), FAST), 'publishing a decision')
    await refused(t, js.publish('banledger.events.web1.ssh', sc.encode('forged'), FAST), 'publishing an event')
    t.equal(await count('BANLEDGER_LEDGER'), ledgerSeq, 'the ledger holds its own entries only')
  })

  t.test('each host has its own users: web2 and web3 mirror web1', async (t) => {
    for (const host of ['web2', 'web3'] as const) {
      const w = await login(t, `watcher-${host}`)
      t.match(await w.js.publish(`banledger.events.${host}.ssh`, sc.encode('{}'), FAST), { stream: 'BANLEDGER_EVENTS' }, `watcher-${host}: own events`)
      await refused(t, w.js.publish('banledger.events.web1.ssh', sc.encode('forged'), FAST), `watcher-${host}: web1's events`)
      const f = await login(t, `firewall-${host}`)
      t.equal((await f.jsm.consumers.add('BANLEDGER_DECISIONS', {
        durable_name: `firewall-${host}`, ack_policy: AckPolicy.Explicit, filter_subject: DECISIONS_FILTER,
      })).name, `firewall-${host}`, `firewall-${host}: own durable`)
      await refused(t, f.js.consumers.get('BANLEDGER_DECISIONS', 'firewall-web1'), `firewall-${host}: web1's durable`)
    }
  })

  t.test('the wrong password or no TLS: no connection', async (t) => {
    await t.rejects(connectAs(t, { ...nats, users: { ...nats.users, ledger: { user: 'ledger', pass: 'pwwrong' } } }, 'ledger'),
      { code: ErrorCode.AuthorizationViolation })
    await t.rejects(connectAs(t, nats, 'ledger', { tls: null }), /TLS|tls/, 'the server requires TLS')
  })

  // -- Known gaps -------------------------------------------------------------
  // nats-server 2.9 checks the subject of a publish against the permissions,
  // never its reply subject, nor the deliver subject of a push consumer: the
  // server itself then publishes there (a JetStream pub ack, a pulled
  // message), and a stream on that subject stores it. These tests show it;
  // closing it takes accounts (README.md, "Known gaps"). Until then the
  // ledger, the firewalls and the notifier must check what they read.
  t.test('known gap: a reply subject lands a message in a stream the user may not publish to', async (t) => {
    const w = await login(t, 'watcher-web1')
    const before = await counts()
    w.nc.publish('banledger.events.web1.ssh', sc.encode('{}'), { reply: 'banledger.ledger' })
    await waitFor(async () => (await count('BANLEDGER_LEDGER')) === before.BANLEDGER_LEDGER + 1, { what: 'the pub ack in BANLEDGER_LEDGER', timeout: 2000 })
    const stray = await jsm.streams.getMessage('BANLEDGER_LEDGER', { last_by_subj: 'banledger.ledger' })
    t.match(sc.decode(stray.data), /"stream":"BANLEDGER_EVENTS"/, 'a JetStream pub ack, stored as a ledger entry')
    await t.rejects(appendLedger('entry 4'), /wrong last sequence/, "the ledger's next append fails its expect lastSequence")
    ledgerSeq = stray.seq

    // A pull request answered to web2's event subject: a decision the firewall
    // on web1 pulled lands in BANLEDGER_EVENTS, stored under its own subject
    // (which that stream does not even list). Into BANLEDGER_DECISIONS itself
    // the copy is dropped as a duplicate (Nats-Msg-Id), but only within the
    // stream's duplicate window, two minutes by default.
    const f = await login(t, 'firewall-web1')
    const events = await count('BANLEDGER_EVENTS')
    f.nc.publish('$JS.API.CONSUMER.MSG.NEXT.BANLEDGER_DECISIONS.firewall-web1', sc.encode(JSON.stringify({ batch: 1 })), { reply: 'banledger.events.web2.ssh' })
    await waitFor(async () => (await count('BANLEDGER_EVENTS')) === events + 1, { what: 'the pulled decision in BANLEDGER_EVENTS', timeout: 2000 })
    const stray2 = await jsm.streams.getMessage('BANLEDGER_EVENTS', { seq: events + 1 })
    t.match({ subject: stray2.subject, data: sc.decode(stray2.data) }, { subject: 'banledger.decisions.web', data: 'ban 192.0.2.2' },
      'a decision, stored in BANLEDGER_EVENTS')
  })
}
