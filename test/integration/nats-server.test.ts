// The nats-server the project ships configs for (ops/nats) and the test
// helper that runs it: a bare JetStream server that survives a restart,
// single.conf taking its settings from the environment, and cluster.conf
// as three real nodes on loopback forming a JetStream cluster (R3 stream).
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { connect, ErrorCode, StringCodec } from 'nats'
import type { JetStreamManager, NatsConnection } from 'nats'
import {
  connectAs, freePort, NATS_CONFIG_DIR, NATS_SERVER, requireNatsServer, startNats, startSecuredCluster, startSecuredNats,
} from '../helpers/nats-server.js'
import { patience } from '../helpers/patience.js'
import { waitFor } from '../helpers/wait-for.js'

const exec = promisify(execFile)
const sc = StringCodec()

/** The JetStream manager, once JetStream answers (a cluster first elects
 *  its meta leader); short requests, retried. */
const jetstreamReady = (nc: NatsConnection): Promise<JetStreamManager> =>
  waitFor(() => nc.jetstreamManager({ timeout: 500 }), { what: 'JetStream to answer', timeout: 10_000 })

if (await requireNatsServer(t)) {
  t.test('startNats: a bare JetStream server; stop, kill and restart keep port and data', async (t) => {
    const nats = await startNats(t)
    t.match(nats.url, /^nats:\/\/127\.0\.0\.1:\d+$/)
    const open = async () => {
      const nc = await connect({ servers: nats.url, reconnect: false })
      t.teardown(() => nc.close())
      return nc
    }
    let nc = await open()
    const jsm = await nc.jetstreamManager()
    await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'] })
    await nc.jetstream().publish('keep.one', sc.encode('kept'))

    const firstPid = nats.pid
    await nats.stop()
    t.equal(nats.pid, -1, 'no process after stop()')
    t.throws(() => process.kill(firstPid, 0), { code: 'ESRCH' }, 'the process is gone')
    await nats.restart()
    t.not(nats.pid, firstPid, 'a new process')
    nc = await open()
    const m = await (await nc.jetstreamManager()).streams.getMessage('KEEP', { seq: 1 })
    t.equal(sc.decode(m.data), 'kept', 'the stream survived, in the same store dir, on the same port')

    const secondPid = nats.pid
    await nats.kill()
    t.throws(() => process.kill(secondPid, 0), { code: 'ESRCH' }, 'kill() waits for the process to die')
    await nats.restart()
    nc = await open()
    t.equal((await (await nc.jetstreamManager()).streams.info('KEEP')).config.name, 'KEEP', 'back after SIGKILL')
  })

  t.test('single.conf reads its settings from the environment', async (t) => {
    const nats = await startSecuredNats(t)
    t.match(nats.log(), `Listening for client connections on 127.0.0.1:${nats.port}`, 'host and port from the environment')
    t.match(nats.log(), 'TLS required for client connections', 'TLS from the environment')
    t.match(nats.log(), `Starting JetStream`, 'JetStream')

    const check = (env: Record<string, string | undefined>) =>
      exec(NATS_SERVER, ['-t', '-c', join(NATS_CONFIG_DIR, 'single.conf')], { env: { PATH: process.env.PATH, ...nats.env, ...env } })
    await t.resolves(check({}), 'nats-server -t: valid with every variable set')
    await t.rejects(check({ BANLEDGER_NATS_PW_NOTIFIER: undefined }),
      { code: 1, stderr: /variable reference for 'BANLEDGER_NATS_PW_NOTIFIER' on line \d+ can not be found/ }, 'a missing variable stops the start')
    // The value is parsed as config: digits are a number, not a password.
    await t.rejects(check({ BANLEDGER_NATS_PW_LEDGER: '12345678' }), { code: 1, stderr: /interface conversion/ }, 'an all-digit password is refused')
    await t.rejects(check({ BANLEDGER_NATS_PW_LEDGER: 'pw with space' }), { code: 1, stderr: /could not be parsed/ }, 'a password with a space is refused')
  })

  t.test('a password variable is parsed as a config value: a bcrypt hash works, a ";" cuts', async (t) => {
    // A bcrypt hash of "secret-of-the-operator" (cost 11) instead of the password.
    const hash = '$2a$11$AX1SZX5jKatKGUuiT8h89OKFPs3AtA.QUVlCkBxXIZpaiCQkG6LRi'
    const nats = await startSecuredNats(t, { env: { BANLEDGER_NATS_PW_OPERATOR: hash, BANLEDGER_NATS_PW_NOTIFIER: 'pwabc;def' } })
    const as = (user: 'operator' | 'notifier', pass: string) => connectAs(t, { ...nats, users: { ...nats.users, [user]: { user, pass } } }, user)
    const nc = await as('operator', 'secret-of-the-operator')
    t.ok(nc.info?.tls_required, 'connected over TLS with the password of the hash')
    await t.rejects(as('operator', hash), { code: ErrorCode.AuthorizationViolation }, 'the hash itself is no password')
    await t.rejects(as('notifier', 'pwabc;def'), { code: ErrorCode.AuthorizationViolation }, '"pwabc;def" is not the password...')
    t.ok(await as('notifier', 'pwabc'), '... "pwabc" is')
  })

  t.test('cluster.conf: three nodes form a JetStream cluster with the same accounts and users', async (t) => {
    const cluster = await startSecuredCluster(t)
    const [n1, n2, n3] = cluster.nodes
    if (n1 === undefined || n2 === undefined || n3 === undefined) throw new Error('three nodes')
    const ledger = await connectAs(t, { ...cluster, urls: [n1.url] }, 'ledger')
    const jsm = await jetstreamReady(ledger)
    const info = await waitFor(() => jsm.streams.add({ name: 'BANLEDGER_LEDGER', subjects: ['banledger.ledger'], num_replicas: 3 }),
      { what: 'an R3 stream', timeout: 10_000 })
    t.equal(info.config.num_replicas, 3)
    // The stream's interest may reach this node a moment after its creation
    // (503, no responders): publish again (the msgID makes it once).
    const ack = await waitFor(() => ledger.jetstream().publish('banledger.ledger', sc.encode('entry 1'), { msgID: 'entry-1', timeout: 1000 }),
      { what: 'the R3 stream to store a message', timeout: 5000 })
    t.equal(ack.seq, 1)
    const si = await waitFor(async () => {
      const si = await jsm.streams.info('BANLEDGER_LEDGER')
      return si.cluster?.replicas?.length === 2 && si.cluster.replicas.every((r) => r.current) ? si : null
    }, { what: 'a leader and two current replicas', timeout: 5000 })
    t.same([si.cluster?.leader, ...(si.cluster?.replicas ?? []).map((r) => r.name)].sort(), ['nats1', 'nats2', 'nats3'])

    // Another user, through another node, reads it back (ordered consumer).
    const operator = await connectAs(t, { ...cluster, urls: [n3.url] }, 'operator')
    const m = await (await operator.jetstream().consumers.get('BANLEDGER_LEDGER', { opt_start_seq: 1 })).next({ expires: 2000 })
    t.equal(m === null ? null : sc.decode(m.data), 'entry 1', 'read back on nats3')
    const watcher = await connectAs(t, { ...cluster, urls: [n2.url] }, 'watcher-web1')
    await t.rejects(watcher.jetstream({ timeout: patience(2000) }).publish('banledger.ledger', sc.encode('forged')),
      { code: ErrorCode.PermissionsViolation }, 'the permissions hold on every node')

    // The accounts across the routes: a watcher's event reaches the events
    // stream through its import and the ack comes back; an ack it steers to
    // banledger.ledger (its reply subject) lands nowhere.
    await waitFor(() => jsm.streams.add({ name: 'BANLEDGER_EVENTS', subjects: ['banledger.events.>', 'banledger.commands.>'], num_replicas: 3 }),
      { what: 'an R3 events stream', timeout: 10_000 })
    const wjs = watcher.jetstream({ timeout: patience(2000) })
    const event = await waitFor(() => wjs.publish('banledger.events.web1.ssh', sc.encode('{}'), { msgID: 'event-1' }),
      { what: 'the R3 events stream to ack through the import', timeout: 5000 })
    t.equal(event.stream, 'BANLEDGER_EVENTS', 'an event, acked across the import')
    watcher.publish('banledger.events.web1.ssh', sc.encode('{}'), { reply: 'banledger.ledger' })
    t.equal((await wjs.publish('banledger.events.web1.ssh', sc.encode('{}'), { msgID: 'event-3' })).seq, 3, 'the one with the steered ack is stored...')
    t.equal((await jsm.streams.info('BANLEDGER_LEDGER')).state.messages, 1, '... and its ack landed nowhere')
  })

  t.test('cluster.conf: a node with a certificate of another CA cannot join', async (t) => {
    const cluster = await startSecuredCluster(t)
    const [n1] = cluster.nodes
    if (n1 === undefined) throw new Error('a node')
    // A fourth node from the same file, trusting the cluster's CA but with
    // a certificate of another one, dialing the three routes.
    const cert = join(cluster.pki.dir, 'rogue.pem')
    const key = join(cluster.pki.dir, 'rogue.key')
    await Promise.all([writeFile(cert, cluster.pki.other.cert), writeFile(key, cluster.pki.other.key, { mode: 0o600 })])
    const rogue = await startNats(t, {
      config: join(NATS_CONFIG_DIR, 'cluster.conf'),
      env: { ...cluster.env, BANLEDGER_NATS_SERVER_NAME: 'rogue', BANLEDGER_NATS_CLUSTER_PORT: String(await freePort()), BANLEDGER_NATS_CERT: cert, BANLEDGER_NATS_KEY: key },
    })
    // Go's TLS client offers no certificate the server's CA did not sign;
    // one it offers is verified against that CA. Refused either way.
    const refusal = /TLS route handshake error: tls: (client didn't provide a certificate|failed to verify client certificate)/
    await waitFor(() => refusal.test(n1.log()), { what: 'nats1 to refuse the route', timeout: 5000 })
    t.notMatch(rogue.log(), /JetStream cluster new metadata leader|Adding JetStream cluster peer/, 'the rogue joined no JetStream cluster')
  })
}
