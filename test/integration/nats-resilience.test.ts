// The fleet through failures (issue 4): nats-server killed (SIGKILL) and
// restarted while two watchers publish 10,000 events; the ledger process
// killed mid-stream and restarted; a firewall worker offline for a while.
// Afterwards the ledger holds each event exactly once, and the worker
// holds exactly the bans in force.
import { appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connect } from 'nats'
import t, { type Test } from 'tap'
import { LedgerStore } from '../../ledger/store/ledger-store.js'
import { decodeEntry } from '../../proto/wire.js'
import { publishedSeq } from '../helpers/bus-kit.js'
import { cli, sshdLine, startService, tempDir, type ServiceProcess } from '../helpers/cli.js'
import { enforced, hostConfig, lifted } from '../helpers/fleet.js'
import { requireNatsServer, startNats, type NatsServer } from '../helpers/nats-server.js'
import { patience } from '../helpers/patience.js'
import { waitFor } from '../helpers/wait-for.js'

const PER_WATCHER = 5000
const CHUNK = 250

/** `n` failure lines of distinct addresses (no ban forms), numbered from `base`. */
function failures(host: number, from: number, n: number): string {
  const now = Date.now()
  let text = ''
  for (let i = from; i < from + n; i++) {
    text += sshdLine(new Date(now - 60_000 + i), `Failed password for root from 2001:db8:${host}::${i.toString(16)} port 22 ssh2`)
  }
  return text
}

/** Log events in the ledger at `dataDir` (the service stopped): how many entries, how many distinct ids. */
async function storedEvents(dataDir: string): Promise<{ entries: number; ids: number }> {
  const store = await LedgerStore.open(join(dataDir, 'ledger'))
  try {
    let entries = 0
    const ids = new Set<string>()
    for await (const values of store.entries(1, 2000)) {
      for (const v of values) {
        const e = decodeEntry(v)
        if (e.cause.type !== 'log') continue
        entries++
        ids.add(e.cause.id)
      }
    }
    return { entries, ids: ids.size }
  } finally {
    await store.close()
  }
}

const stop = async (p: ServiceProcess): Promise<void> => {
  p.child.kill('SIGTERM')
  await p.exited
}

/** Writes both watchers' logs in chunks, calling `midway` once half is
 *  written and the ledger has stored some of it. */
async function feed(server: Pick<NatsServer, 'url'>, logs: readonly string[], midway: () => Promise<void>): Promise<void> {
  for (let from = 0; from < PER_WATCHER; from += CHUNK) {
    if (from === PER_WATCHER / 2) {
      await waitFor(async () => await seqOf(server) >= CHUNK, { what: 'events flowing', timeout: 20_000, interval: 20 })
      await midway()
    }
    await Promise.all(logs.map((log, h) => appendFile(log, failures(h + 1, from, CHUNK))))
    await new Promise(resolve => setImmediate(resolve))
  }
}

/** A ledger and two watchers; `fault` strikes once half the lines are
 *  written and events flow; afterwards the ledger must hold every event once. */
async function tenThousandThrough(
  t: Test, fault: (f: { server: NatsServer; ledger: ServiceProcess; restartLedger: () => Promise<ServiceProcess> }) => Promise<ServiceProcess>,
): Promise<void> {
  if (!(await requireNatsServer(t))) return
  const server = await startNats(t)
  const root = await tempDir(t)
  const core = await hostConfig(root, 'core', server, { logLevel: 'info' })
  const hosts = await Promise.all(['web1', 'web2'].map(h => hostConfig(root, h, server, { logLevel: 'info' })))
  let ledger = await startService(t, core.config, ['--role', 'ledger'])
  await Promise.all(hosts.map(h => startService(t, h.config, ['--role', 'watcher'])))
  await feed(server, hosts.map(h => h.log), async () => {
    ledger = await fault({ server, ledger, restartLedger: () => startService(t, core.config, ['--role', 'ledger']) })
  })
  const expected = 2 * PER_WATCHER
  await waitFor(async () => await seqOf(server) >= expected, { what: `${expected} entries in the ledger`, timeout: 90_000, interval: 250 })
  await stop(ledger)
  t.same(await storedEvents(join(root, 'core', 'data')), { entries: expected, ids: expected }, 'every event once')
}

t.test('nats-server SIGKILLed and restarted mid-stream: 10,000 events stored once each', t =>
  tenThousandThrough(t, async ({ server, ledger }) => {
    await server.kill('SIGKILL')
    await server.restart()
    return ledger
  }))

t.test('the ledger SIGKILLed mid-stream and restarted: 10,000 events stored once each', t =>
  tenThousandThrough(t, async ({ ledger, restartLedger }) => {
    ledger.child.kill('SIGKILL')
    await ledger.exited
    return restartLedger()
  }))

t.test('a firewall worker offline for a while comes back to exactly the bans in force', async t => {
  if (!(await requireNatsServer(t))) return
  const server = await startNats(t)
  const root = await tempDir(t)
  const core = await hostConfig(root, 'core', server)
  const web1 = await hostConfig(root, 'web1', server)
  const web3 = await hostConfig(root, 'web3', server)
  await startService(t, core.config, ['--role', 'ledger'])
  await startService(t, web1.config, ['--role', 'watcher'])
  let firewall = await startService(t, web3.config, ['--role', 'firewall'])
  const ban = async (ip: string) => {
    const r = await cli(['ban', ip, '--jail', 'ssh', '--reason', 'test', '--config', core.config])
    t.equal(r.code, 0, `ban ${ip}: ${r.stderr}`)
  }
  await ban('192.0.2.11')
  await waitFor(() => enforced(firewall, '192.0.2.11'), { what: 'the first ban on web3' })
  await stop(firewall)
  // While it is away: one ban lifted, two made (one from web1's log).
  t.equal((await cli(['unban', '192.0.2.11', '--jail', 'ssh', '--config', core.config])).code, 0)
  await ban('192.0.2.12')
  const now = Date.now()
  await appendFile(web1.log, [0, 1, 2].map(i => sshdLine(new Date(now - 5000 + i), `Failed password for root from 192.0.2.13 port 22 ssh2`)).join(''))
  await waitFor(async () => (await cli(['bans', '--json', '--config', core.config])).stdout.includes('192.0.2.13'), { what: 'the ban from web1' })
  firewall = await startService(t, web3.config, ['--role', 'firewall'])
  await waitFor(() => enforced(firewall, '192.0.2.12') && enforced(firewall, '192.0.2.13'), { what: 'both bans on web3' })
  t.notOk(enforced(firewall, '192.0.2.11'), 'the lifted ban is not enforced again')
  t.notOk(lifted(firewall, '192.0.2.13'), 'nothing is undone by the decisions it missed')
  t.match(firewall.output(), /firewall start: repaired 2 missing, 0 stale, 0 mistimed; 2 bans in force/)
})

/** The ledger's sequence as published: the last entry of the ledger stream's last message. */
async function seqOf(server: Pick<NatsServer, 'url'>): Promise<number> {
  const nc = await connect({ servers: server.url, timeout: patience(2000) })
  try {
    const jsm = await nc.jetstreamManager()
    return await publishedSeq(jsm)
  } catch {
    return 0
  } finally {
    await nc.close()
  }
}
