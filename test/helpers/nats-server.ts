// A real nats-server (the Debian package's /usr/sbin/nats-server) for tests:
// on a random free loopback port with a temp JetStream store dir, started
// bare (`-js`) or from a config file such as ops/nats/single.conf, whose
// `$BANLEDGER_NATS_*` variables come from the environment we give it. The
// teardown kills the server and removes its store dir.
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { connect } from 'nats'
import type { ConnectionOptions, NatsConnection } from 'nats'
import { makeTestPki } from './test-ca.js'
import type { TestPki } from './test-ca.js'
import { waitFor } from './wait-for.js'
import { tied } from './tied-child.js'

const run = promisify(execFile)

export const NATS_SERVER = '/usr/sbin/nats-server'
/** ops/nats in this checkout. */
export const NATS_CONFIG_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../ops/nats')

type Teardown = { teardown(fn: () => unknown): void }
type Plannable = Teardown & { fail(message: string): unknown; plan(n: number, comment?: string): void }

/** Skips (prints why) when nats-server is not installed; fails on CI, which
 *  must run the NATS tests. Returns true when the test may go on. */
export async function requireNatsServer(t: Plannable): Promise<boolean> {
  try {
    await access(NATS_SERVER)
    return true
  } catch {
    const reason = `${NATS_SERVER} is not installed (apt-get install nats-server)`
    if (process.env.CI === 'true') t.fail(`CI must run the NATS tests: ${reason}`)
    else t.plan(0, `skipped: ${reason}`)
    return false
  }
}

export type StartNatsOptions = Readonly<{
  /** A config file; it gets BANLEDGER_NATS_HOST, _PORT and _STORE in its
   *  environment. Absent: `nats-server -a 127.0.0.1 -p PORT -js -sd DIR`. */
  config?: string
  /** More arguments for the bare server (not with `config`). */
  args?: readonly string[]
  /** More environment variables for the server (merged over ours). */
  env?: Readonly<Record<string, string>>
  /** Wait this long for the server to take connections. Default 10000. */
  timeout?: number
}>

export type NatsServer = Readonly<{
  /** nats://127.0.0.1:PORT (TLS or not is the client's `tls` option). */
  url: string
  port: number
  storeDir: string
  /** Of the running process (changes on restart). */
  readonly pid: number
  /** The last 64 KiB the server logged (stderr), for failure messages. */
  log(): string
  /** Sends `signal` (default SIGKILL) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** Graceful: SIGTERM and wait. */
  stop(): Promise<void>
  /** Starts again on the same port and store dir (JetStream data survives);
   *  kills the running process first if there is one. */
  restart(): Promise<void>
}>

/** A free TCP port on 127.0.0.1 (bound to port 0, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((ok) => server.close(() => ok()))
  return port
}

/** Starts nats-server; `t`'s teardown kills it and removes the store dir. */
export async function startNats(t: Teardown, opts: StartNatsOptions = {}): Promise<NatsServer> {
  const port = await freePort()
  const storeDir = await mkdtemp(join(tmpdir(), 'banledger-nats-'))
  const args = opts.config === undefined
    ? ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir, ...(opts.args ?? [])]
    : ['-c', opts.config]
  const env = {
    ...process.env,
    BANLEDGER_NATS_HOST: '127.0.0.1', BANLEDGER_NATS_PORT: String(port), BANLEDGER_NATS_STORE: storeDir,
    ...opts.env,
  }
  let child: ChildProcess | null = null
  /** Resolves when the current process has exited, with why. */
  let exited: Promise<string> = Promise.resolve('not started')
  let log = ''

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child === null) return
    child.kill(signal)
    await exited
  }
  const start = async () => {
    const c = spawn(...tied(NATS_SERVER, args), { env, stdio: ['ignore', 'ignore', 'pipe'] })
    child = c
    c.stderr?.setEncoding('utf8').on('data', (s: string) => { log = (log + s).slice(-65536) })
    // 'close', not 'exit': by then stderr is read to the end.
    let died: string | null = null
    exited = new Promise((ok) => c.once('close', (code, signal) => {
      if (child === c) child = null
      died = `nats-server exited (${code ?? signal})`
      ok(died)
    }))
    try {
      await waitFor(async () => died !== null || await acceptsClients(port),
        { what: `nats-server on port ${port}`, timeout: opts.timeout ?? 10_000, interval: 20 })
    } catch (err) {
      await kill()
      throw new Error(`${(err as Error).message}; its log:\n${log}`, { cause: err })
    }
    if (died !== null) throw new Error(`${died} before taking connections; its log:\n${log}`)
  }

  t.teardown(async () => {
    await kill()
    await rm(storeDir, { recursive: true, force: true })
  })
  await start()
  return {
    url: `nats://127.0.0.1:${port}`, port, storeDir,
    get pid() { return child?.pid ?? -1 },
    log: () => log,
    kill,
    stop: () => kill('SIGTERM'),
    restart: async () => { await kill(); await start() },
  }
}

/** True once a TCP client gets the server's INFO line (sent in clear text
 *  before any TLS upgrade, so this works for TLS servers too). */
function acceptsClients(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const socket = net.connect(port, '127.0.0.1')
    const done = (ready: boolean) => { socket.destroy(); ok(ready) }
    socket.setTimeout(1000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('data', (chunk) => done(chunk.toString('latin1').startsWith('INFO ')))
  })
}

// -- ops/nats/single.conf with TLS and every account and user ------------------

/** The users of ops/nats/users.conf (each in an account of its own there),
 *  and the host token (inbox prefix) each one connects with in the tests. */
export const NATS_USERS = {
  ledger: 'core',
  operator: 'core',
  notifier: 'core',
  'watcher-web1': 'web1',
  'watcher-web2': 'web2',
  'watcher-web3': 'web3',
  'firewall-web1': 'web1',
  'firewall-web2': 'web2',
  'firewall-web3': 'web3',
} as const
export type NatsUser = keyof typeof NATS_USERS

export type Credentials = Readonly<{ user: string; pass: string }>

export type SecuredNats = NatsServer & Readonly<{
  /** The CA file clients trust (nats.js: `tls: { caFile }`). */
  caFile: string
  pki: TestPki
  users: Readonly<Record<NatsUser, Credentials>>
  /** The whole environment the config got (ports, paths, passwords). */
  env: Readonly<Record<string, string>>
}>

/** BANLEDGER_NATS_PW_WATCHER_WEB1 for watcher-web1, and so on. */
export const passwordVariable = (user: NatsUser) => `BANLEDGER_NATS_PW_${user.toUpperCase().replace(/-/g, '_')}`

/** Random passwords in the alphabet the config's variables take (a letter
 *  first, then letters and digits: see users.conf). */
export function makeNatsPasswords(): { users: Record<NatsUser, Credentials>; env: Record<string, string> } {
  const users = {} as Record<NatsUser, Credentials>
  const env: Record<string, string> = {}
  for (const user of Object.keys(NATS_USERS) as NatsUser[]) {
    const pass = `pw${randomBytes(18).toString('hex')}`
    users[user] = { user, pass }
    env[passwordVariable(user)] = pass
  }
  return { users, env }
}

/** Starts ops/nats/single.conf as is: test certificates (makeTestPki),
 *  random passwords, a random port and store dir. */
export async function startSecuredNats(t: Teardown, opts: Omit<StartNatsOptions, 'config'> = {}): Promise<SecuredNats> {
  const pki = await makeTestPki(t)
  // The server's certificate and key, as files of our own (in pki.dir,
  // which goes away with the PKI).
  const certFile = join(pki.dir, 'nats-server.pem')
  const keyFile = join(pki.dir, 'nats-server.key')
  await Promise.all([writeFile(certFile, pki.ca.cert), writeFile(keyFile, pki.ca.key, { mode: 0o600 })])
  const { users, env: passwords } = makeNatsPasswords()
  const env = { BANLEDGER_NATS_CERT: certFile, BANLEDGER_NATS_KEY: keyFile, ...passwords, ...opts.env }
  const server = await startNats(t, { ...opts, config: join(NATS_CONFIG_DIR, 'single.conf'), env })
  return {
    url: server.url, port: server.port, storeDir: server.storeDir,
    get pid() { return server.pid },
    log: server.log, kill: server.kill, stop: server.stop, restart: server.restart,
    caFile: pki.ca.caFile, pki, users,
    env: { ...env, BANLEDGER_NATS_HOST: '127.0.0.1', BANLEDGER_NATS_PORT: String(server.port), BANLEDGER_NATS_STORE: server.storeDir },
  }
}

// -- ops/nats/cluster.conf: three nodes on loopback ---------------------------

/** A certificate for the nodes of a cluster, signed by `pki`'s test CA: like
 *  the CA's server certificate, plus extendedKeyUsage clientAuth, which the
 *  routes need (each node is the TLS client of the routes it dials, and
 *  nats-server verifies route certificates both ways). */
export async function makeNodeCertificate(pki: TestPki): Promise<Readonly<{ cert: string; key: string }>> {
  // makeTestPki keeps its CA key next to the CA file (test-ca.pem, test-ca.key).
  const caKey = pki.ca.caFile.replace(/ca\.pem$/, 'ca.key')
  try {
    await access(caKey)
  } catch {
    throw new Error(`no CA key at ${caKey}: has test/helpers/test-ca.ts changed its file names?`)
  }
  const file = (name: string) => join(pki.dir, `nats-node.${name}`)
  await writeFile(file('ext'), [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth, clientAuth',
    'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1',
    '',
  ].join('\n'))
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', file('key'), '-out', file('csr'), '-subj', '/CN=banledger nats node'])
  await run('openssl', ['x509', '-req', '-in', file('csr'), '-CA', pki.ca.caFile, '-CAkey', caKey,
    '-set_serial', String(Date.now()), '-days', '2', '-extfile', file('ext'), '-out', file('pem')])
  return { cert: file('pem'), key: file('key') }
}

export type SecuredCluster = Readonly<{
  nodes: readonly NatsServer[]
  /** Every node's client URL (nats.js: servers). */
  urls: readonly string[]
  caFile: string
  pki: TestPki
  users: Readonly<Record<NatsUser, Credentials>>
  /** The environment the three nodes share (a node adds its
   *  BANLEDGER_NATS_SERVER_NAME, _CLUSTER_PORT, _PORT and _STORE). */
  env: Readonly<Record<string, string>>
}>

/** Starts ops/nats/cluster.conf three times (nats1..3) on loopback, with
 *  random client and route ports; resolves once every node takes clients
 *  (the JetStream cluster may still be electing its leader). */
export async function startSecuredCluster(t: Teardown): Promise<SecuredCluster> {
  const pki = await makeTestPki(t)
  const node = await makeNodeCertificate(pki)
  const { users, env: passwords } = makeNatsPasswords()
  const routePorts = await Promise.all([freePort(), freePort(), freePort()])
  const shared = {
    ...passwords,
    BANLEDGER_NATS_CERT: node.cert, BANLEDGER_NATS_KEY: node.key, BANLEDGER_NATS_CA: pki.ca.caFile,
    ...Object.fromEntries(routePorts.map((port, i) => [`BANLEDGER_NATS_ROUTE_${i + 1}`, `nats://127.0.0.1:${port}`])),
  }
  const nodes = await Promise.all(routePorts.map((port, i) => startNats(t, {
    config: join(NATS_CONFIG_DIR, 'cluster.conf'),
    env: { ...shared, BANLEDGER_NATS_SERVER_NAME: `nats${i + 1}`, BANLEDGER_NATS_CLUSTER_PORT: String(port) },
  })))
  return { nodes, urls: nodes.map((n) => n.url), caFile: pki.ca.caFile, pki, users, env: shared }
}

export type NatsTarget = Readonly<{ caFile: string; users: Readonly<Record<NatsUser, Credentials>> }>
  & (Readonly<{ url: string }> | Readonly<{ urls: readonly string[] }>)

/** Connects as `user` over TLS, with the inbox prefix of its host (as the
 *  services do); the connection is closed in `t`'s teardown. */
export async function connectAs(t: Teardown, target: NatsTarget, user: NatsUser, opts: ConnectionOptions = {}): Promise<NatsConnection> {
  const nc = await connect({
    servers: 'url' in target ? target.url : [...target.urls],
    user, pass: target.users[user].pass,
    tls: { caFile: target.caFile }, inboxPrefix: `_INBOX.${NATS_USERS[user]}`,
    name: `test ${user}`, reconnect: false,
    ...opts,
  })
  t.teardown(() => nc.close())
  return nc
}
