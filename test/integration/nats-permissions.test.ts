// ops/nats/single.conf as is (TLS; the accounts and users of users.conf)
// against nats.js: each role can do its job, and the server refuses what it
// must not do. Two fences: the user permissions inside each account, and
// the accounts themselves (each stream alone in an account, each user in
// one of its own, reaching the streams only through imports).
//
// nats.js reports a refused publish as an -ERR "Permissions Violation": a
// request (js.publish, every JetStream API call) rejects with code
// PERMISSIONS_VIOLATION, a plain publish or subscribe only shows in
// nc.status(). Each refusal is asserted as such (no waiting for timeouts),
// and where a stream could have been written, that nothing landed in it.
// The attacks the permissions cannot see (a reply subject is never checked
// against them, a push consumer's deliver subject neither) are shown to land
// nowhere: the stream counts do not move, the ledger's next append with its
// expected last sequence goes through. Last, the real NatsBus of each role,
// each as its own user, runs the whole flow on the same config.
import t, { type Test } from 'tap'
import { AckPolicy, ErrorCode, Events, nanos, RequestStrategy, StringCodec } from 'nats'
import type { NatsConnection, Status } from 'nats'
import type { BusInput, Decision } from '../../ledger/rules/types.js'
import type { BanSnapshot, SnapshotBan } from '../../services/bus/bus.js'
import { NatsBus } from '../../services/bus/nats/nats-bus.js'
import { captureLogs, logEvent, MemoryFeed, NATS_TIMEOUTS, natsConfig, publishedSeq } from '../helpers/bus-kit.js'
import { connectAs, requireNatsServer, startSecuredNats } from '../helpers/nats-server.js'
import type { NatsUser } from '../helpers/nats-server.js'
import { patience } from '../helpers/patience.js'
import { waitFor } from '../helpers/wait-for.js'

const sc = StringCodec()
const FAST = { timeout: patience(2000) }
const DECISIONS_FILTER = 'banledger.decisions.>'
const SNAPSHOT = Array.from({ length: 25 }, (_, i) => `ban ${i + 1}`)

if (await requireNatsServer(t)) {
  const nats = await startSecuredNats(t)

  // The ledger sets the bus up: the three streams, its consumer, and a
  // snapshot responder (25 messages and the empty end marker: allow_responses
  // lets it send more than one). Snapshot requests reach it through stream
  // imports, with the requester's own reply subject: like the real ledger
  // (NatsBus.serveSnapshots) it answers inboxes only, and it notes the reply
  // subjects it saw.
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
  const snapshotReplies: string[] = []
  ledger.subscribe('banledger.snapshot', {
    callback: (_err, m) => {
      snapshotReplies.push(m.reply ?? '')
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
    t.match(snapshotReplies.at(-1), /^_INBOX\.web1\./, 'the request reached the ledger with its own inbox as reply subject')

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

    // A process running `--role ledger,notifier` reads it as the ledger user.
    await decide('web', 'ban 192.0.2.4')
    const asLedger = await ljs.consumers.get('BANLEDGER_DECISIONS', 'notifier')
    const m = await asLedger.next({ expires: 2000 })
    t.equal(m === null ? null : sc.decode(m.data), 'ban 192.0.2.4', 'the ledger user reads the durable notifier too')
    t.equal(await m?.ackAck(FAST), true, 'and acknowledges')
  })

  t.test('operator sends commands and reads the ledger and the decisions from a sequence, and nothing else', async (t) => {
    const { nc, status, js, jsm: ojsm } = await login(t, 'operator')
    for (const entry of ['entry 1', 'entry 2', 'entry 3']) await appendLedger(entry)
    const ack = await js.publish('banledger.commands.alice', sc.encode('{"type":"unban"}'), { msgID: 'cmd-1', ...FAST })
    t.match(ack, { stream: 'BANLEDGER_EVENTS' }, 'a command, acked')
    t.same(await snapshot(nc), SNAPSHOT, 'a snapshot')
    t.match(snapshotReplies.at(-1), /^_INBOX\.core\./, 'its request, with its inbox as reply subject')
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

  // -- What the permissions cannot see ------------------------------------------
  // nats-server checks a publish's subject against the permissions, never its
  // reply subject, nor a push consumer's deliver subject; the server (JetStream)
  // then publishes there itself. With one account, a watcher's event with
  // reply `banledger.ledger` landed its pub ack in BANLEDGER_LEDGER (and the
  // ledger stopped: BANLEDGER_BUS_DIVERGED). With the accounts, a reply goes
  // back into the requester's account, where no stream listens.

  t.test("a watcher's reply subject cannot land the JetStream ack in a stream", async (t) => {
    const w = await login(t, 'watcher-web1')
    const before = await counts()
    const replies = [
      'banledger.ledger', 'banledger.decisions.ssh', 'banledger.events.web2.ssh', 'banledger.commands.x',
      // its own import: the ack is not carried into BANLEDGER_EVENTS either
      'banledger.events.web1.ssh',
      '$JS.API.STREAM.DELETE.BANLEDGER_LEDGER', '$JS.API.STREAM.PURGE.BANLEDGER_EVENTS',
    ]
    for (const [i, reply] of replies.entries()) w.nc.publish('banledger.events.web1.ssh', sc.encode(`{"n":${i}}`), { reply })
    // One more, acknowledged: the stream stored (and acked) the others before it.
    t.match(await w.js.publish('banledger.events.web1.ssh', sc.encode('{}'), FAST),
      { stream: 'BANLEDGER_EVENTS', seq: before.BANLEDGER_EVENTS + replies.length + 1 }, 'the events themselves are stored')
    t.same(await counts(), { ...before, BANLEDGER_EVENTS: before.BANLEDGER_EVENTS + replies.length + 1 }, 'and nothing else landed anywhere')
    await appendLedger(`entry ${ledgerSeq + 1}`)
    t.equal(await count('BANLEDGER_LEDGER'), ledgerSeq, "the ledger's next append, expecting its own last sequence, goes through")
    t.same(w.status.filter((s) => s.type === Events.Error), [], 'no refusal either: the reply subjects just lead back into its own account')
  })

  t.test('a firewall cannot steer the decisions it pulls into a stream, nor to the ledger', async (t) => {
    const f = await login(t, 'firewall-web1')
    await decide('ssh', 'ban 192.0.2.3')
    const before = await counts()
    const requests = snapshotReplies.length
    for (const reply of ['banledger.events.web2.ssh', 'banledger.events.web1.ssh', 'banledger.ledger', 'banledger.decisions.ssh',
      'banledger.commands.x', 'banledger.snapshot']) {
      f.nc.publish('$JS.API.CONSUMER.MSG.NEXT.BANLEDGER_DECISIONS.firewall-web1', sc.encode(JSON.stringify({ batch: 10, expires: nanos(1000) })), { reply })
    }
    // A pull of its own after them: the consumer served (or dropped) those first.
    const consumer = await f.js.consumers.get('BANLEDGER_DECISIONS', 'firewall-web1')
    const m = await consumer.next({ expires: 1500 })
    m?.ack()
    t.same(await counts(), before, 'nothing landed in any stream')
    t.equal(snapshotReplies.length, requests, 'nor did a pulled decision reach the ledger as a snapshot request (through its own export)')
  })

  t.test('a push consumer delivers only inside its stream\'s account, where no other stream listens', async (t) => {
    const f = await login(t, 'firewall-web3')
    const before = await counts()
    const durable = { durable_name: 'firewall-web3', filter_subject: DECISIONS_FILTER }
    // A firewall can make its own durable go (an update to inactive_threshold)
    // and make it again as a push consumer: its own host's service only.
    await f.jsm.consumers.add('BANLEDGER_DECISIONS', { ...durable, ack_policy: AckPolicy.Explicit, inactive_threshold: nanos(100) })
    await waitFor(() => jsm.consumers.info('BANLEDGER_DECISIONS', 'firewall-web3').then(() => false, () => true), { what: 'the durable to go', timeout: 5000 })
    await t.rejects(f.jsm.consumers.add('BANLEDGER_DECISIONS', { ...durable, ack_policy: AckPolicy.None, deliver_subject: 'banledger.decisions.ssh' }),
      /forms a cycle/, "the stream's own subjects are refused (a cycle)")
    const pushTo = async (who: typeof f, stream: string, config: Parameters<typeof jsm.consumers.add>[1], name: string) => {
      await who.jsm.consumers.add(stream, { ack_policy: AckPolicy.None, headers_only: true, ...config })
      // The server delivers a push consumer's messages only while something
      // listens where they go (push_bound); none can, in a stream's account.
      const ci = await jsm.consumers.info(stream, name)
      t.notOk(ci.push_bound, `${name} on ${stream} to ${String(config.deliver_subject)}: nothing listens there (not push-bound)`)
      await jsm.consumers.delete(stream, name)
      return ci
    }
    for (const deliver of ['banledger.ledger', 'banledger.events.web3.ssh', 'banledger.snapshot', '$JS.API.STREAM.DELETE.BANLEDGER_DECISIONS']) {
      const ci = await pushTo(f, 'BANLEDGER_DECISIONS', { ...durable, deliver_subject: deliver }, 'firewall-web3')
      t.equal(ci.delivered.stream_seq, 0, `firewall-web3 pushing to ${deliver}: nothing delivered (nothing listens there)`)
    }
    // Nor to the ack subject of a message another consumer holds (an empty
    // body, headers_only, would be an ack).
    const n = await login(t, 'notifier')
    const held = await (await n.js.consumers.get('BANLEDGER_DECISIONS', 'notifier')).next({ expires: 2000 })
    if (held === null) throw new Error('the notifier should hold a decision')
    const ackSubject = (held as unknown as { reply: string }).reply
    const ci = await pushTo(f, 'BANLEDGER_DECISIONS', { ...durable, deliver_subject: ackSubject }, 'firewall-web3')
    t.equal(ci.delivered.stream_seq, 0, `firewall-web3 pushing to the notifier's ack subject ${ackSubject}: nothing delivered`)
    t.equal((await jsm.consumers.info('BANLEDGER_DECISIONS', 'notifier')).num_ack_pending, 1, 'the notifier still holds its decision unacknowledged')
    t.equal(await held.ackAck(FAST), true, 'and acknowledges it itself')
    // The operator creates consumers of any name on both streams (its ordered consumers).
    const o = await login(t, 'operator')
    for (const [stream, deliver] of [['BANLEDGER_LEDGER', 'banledger.decisions.ssh'], ['BANLEDGER_DECISIONS', 'banledger.ledger'],
      ['BANLEDGER_LEDGER', '$JS.API.STREAM.PURGE.BANLEDGER_LEDGER']] as const) {
      const ci = await pushTo(o, stream, { name: 'rogue', deliver_subject: deliver }, 'rogue')
      t.equal(ci.delivered.stream_seq, 0, `operator pushing ${stream} to ${deliver}: nothing delivered`)
    }
    await t.rejects(o.jsm.consumers.add('BANLEDGER_LEDGER', { name: 'rogue', ack_policy: AckPolicy.None, deliver_subject: 'banledger.ledger' }), /forms a cycle/)
    t.same(await counts(), before, 'nothing landed in any stream')
    await appendLedger(`entry ${ledgerSeq + 1}`)
    t.equal(await count('BANLEDGER_LEDGER'), ledgerSeq, 'the ledger appends as before')
  })

  t.test('snapshot requests reach the ledger with the reply subject the requester chose: the ledger answers inboxes only', async (t) => {
    // Stream imports carry the requester's reply subject as it is (a service
    // import would hand the ledger a server subject, _R_.xxx, which
    // NatsBus.serveSnapshots refuses). In the ledger's account a reply of
    // `banledger.ledger` would name its own import of the ledger stream, so
    // the ledger's check is what keeps this one closed (the end-to-end test
    // below runs it against the real NatsBus).
    const f = await login(t, 'firewall-web2')
    const before = await counts()
    const requests = snapshotReplies.length
    f.nc.publish('banledger.snapshot', undefined, { reply: 'banledger.ledger' })
    await waitFor(() => snapshotReplies.length > requests, { what: 'the request at the ledger' })
    t.equal(snapshotReplies.at(-1), 'banledger.ledger', 'the reply subject as given')
    t.same(await snapshot(f.nc), SNAPSHOT, 'an inbox gets its answer')
    t.same(await counts(), before, 'nothing landed in any stream')
  })

  t.test("the operator's import of _INBOX.core.> carries snapshot answers only, not the ledger's own traffic", async (t) => {
    // The ledger connects with the same inbox prefix (_INBOX.core): what
    // JetStream answers it comes back as service responses, which the
    // stream export of CORE's inboxes does not carry.
    const o = await login(t, 'operator')
    const seen: string[] = []
    o.nc.subscribe('_INBOX.core.>', { callback: (_err, m) => { seen.push(m.subject) } })
    await o.nc.flush()
    await appendLedger(`entry ${ledgerSeq + 1}`)
    await counts()
    await jsm.streams.getMessage('BANLEDGER_LEDGER', { seq: 1 })
    const events = await ljs.consumers.get('BANLEDGER_EVENTS', 'ledger')
    const m = await events.next({ expires: 2000 })
    t.ok(m, 'the ledger pulled an event')
    t.equal(await m?.ackAck(FAST), true)
    await o.nc.flush()
    t.same(seen, [], 'none of it reached the operator')
  })

  // -- The real services ----------------------------------------------------------

  t.test('end to end: the NatsBus of every role, each as its own user, on the shipped config', async (t) => {
    const server = await startSecuredNats(t)
    const T0 = Date.UTC(2026, 10, 21, 10, 0, 0)
    const diverged: Error[] = []
    const open = async (user: NatsUser, host: string, logger = captureLogs('warn').logger) => {
      // Reconnecting as the services do (nats-connect.ts): a connection the
      // server drops while a stalled machine keeps the client from reading
      // comes back instead of failing the test with EPIPE.
      const nc = await connectAs(t, server, user, { reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 })
      const bus = new NatsBus({ nc, config: natsConfig(server), host, logger, onDiverged: (err) => diverged.push(err), timeouts: NATS_TIMEOUTS })
      t.teardown(() => bus.close())
      return { nc, bus }
    }

    // The ledger: the streams, its inputs, the ledger and decisions streams,
    // snapshots (4,500 bans: three chunks and the end marker).
    const ledgerLogs = captureLogs('warn')
    const ledger = await open('ledger', 'core', ledgerLogs.logger)
    const feed = new MemoryFeed()
    const inputs: BusInput[] = []
    await ledger.bus.consumeInputs(async (got) => {
      inputs.push(...got)
      feed.commitBans(got.map((i) => i.ip), T0)
    })
    await ledger.bus.publishLedger(feed)
    const bans: SnapshotBan[] = Array.from({ length: 4500 }, (_, i) => ({
      jail: 'ssh', ip: `2001:db8::${i.toString(16)}`, since: T0, until: T0 + 3_600_000, reason: 'maxretry',
    }))
    await ledger.bus.serveSnapshots((): BanSnapshot => ({ seq: feed.seq, at: T0, bans }))

    // The readers of decisions: the firewall of web1 and the notifier.
    const firewall = await open('firewall-web1', 'web1')
    const notifier = await open('notifier', 'core')
    const toFirewall: Decision[] = []
    const toNotifier: Decision[] = []
    await firewall.bus.subscribeDecisions('firewall-web1', (ds) => { toFirewall.push(...ds) })
    await notifier.bus.subscribeDecisions('notifier', (ds) => { toNotifier.push(...ds) })

    // A watcher's events and an operator's command reach the ledger, each
    // publish resolving on JetStream's acks come back through the import.
    const watcher = await open('watcher-web1', 'web1')
    const operator = await open('operator', 'core')
    const events = [logEvent('web1', '192.0.2.10', T0), logEvent('web1', '192.0.2.11', T0 + 1)]
    await watcher.bus.publishInputs(events)
    const command: BusInput = { type: 'operator', action: 'ban', id: 'op-e2e-1', jail: 'ssh', ip: '192.0.2.12', at: T0 + 2, actor: 'alice', reason: 'e2e' }
    await operator.bus.publishInputs([command])
    await waitFor(() => inputs.length >= 3, { what: 'the three inputs at the ledger', timeout: 10_000 })
    t.same(inputs.map((i) => i.id).sort(), [...events.map((e) => e.id), command.id].sort(), 'the ledger got both hosts\' inputs')

    const banned = ['192.0.2.10', '192.0.2.11', '192.0.2.12']
    await waitFor(() => toFirewall.length >= 3 && toNotifier.length >= 3, { what: 'the decisions at the firewall and the notifier', timeout: 10_000 })
    t.same(toFirewall.map((d) => d.ip).sort(), banned, 'firewall-web1 got every decision (its durable)')
    t.same(toNotifier.map((d) => d.ip).sort(), banned, 'the notifier too (its durable)')

    const check = await connectAs(t, server, 'ledger')
    const cjsm = await check.jetstreamManager()
    await waitFor(async () => await publishedSeq(cjsm) === feed.seq, { what: 'the entries in BANLEDGER_LEDGER' })

    for (const [who, bus] of [['firewall-web1', firewall.bus], ['operator', operator.bus]] as const) {
      const s = await bus.snapshot()
      t.equal(s.seq, feed.seq, `${who}: a snapshot at the ledger's sequence`)
      t.equal(s.bans.length, bans.length, `${who}: every ban, in chunks`)
      t.same(s.bans.at(-1), bans.at(-1))
    }

    // The attacks, against the real ledger: a watcher's event with the
    // ledger stream's subject as reply, a firewall's snapshot request with
    // that reply (the ledger drops it: not an inbox). The ledger goes on.
    const before = await Promise.all(['BANLEDGER_LEDGER', 'BANLEDGER_DECISIONS'].map(async (s) => (await cjsm.streams.info(s)).state.messages))
    watcher.nc.publish('banledger.events.web1.ssh', sc.encode('not an input'), { reply: 'banledger.ledger' })
    firewall.nc.publish('banledger.snapshot', undefined, { reply: 'banledger.ledger' })
    await waitFor(() => ledgerLogs.lines.some((l) => l.includes('a snapshot request with reply subject \\"banledger.ledger\\", not an inbox')),
      { what: 'the ledger to drop the snapshot request' })
    t.same(await Promise.all(['BANLEDGER_LEDGER', 'BANLEDGER_DECISIONS'].map(async (s) => (await cjsm.streams.info(s)).state.messages)), before,
      'nothing landed in the ledger or decisions streams')
    const later = logEvent('web1', '192.0.2.13', T0 + 3)
    await watcher.bus.publishInputs([later])
    await waitFor(() => toFirewall.some((d) => d.ip === '192.0.2.13') && toNotifier.some((d) => d.ip === '192.0.2.13'),
      { what: 'the next decision', timeout: 10_000 })
    await waitFor(async () => await publishedSeq(cjsm) === feed.seq, { what: 'the next entry in BANLEDGER_LEDGER' })
    t.equal(feed.seq, 4, 'four entries: the garbage event was dropped by the ledger, not appended')
    t.same(diverged, [], 'the ledger never found its stream diverged')
  })
}
