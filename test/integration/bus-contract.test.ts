// One contract, two adapters (issue 4): the embedded bus and the NATS
// JetStream bus (a real nats-server per test) behave the same through the
// port in services/bus/bus.ts.
import t from 'tap'
import type { BusInput, Decision } from '../../ledger/rules/types.js'
import type { BanSnapshot, Bus } from '../../services/bus/bus.js'
import { busFactory, logEvent, MemoryFeed, type BusKind } from '../helpers/bus-kit.js'
import { requireNatsServer } from '../helpers/nats-server.js'
import { waitFor } from '../helpers/wait-for.js'

const T0 = Date.UTC(2026, 10, 21, 10, 0, 0)
const ip = (i: number): string => `192.0.2.${i % 250 + 1}`

for (const kind of ['embedded', 'nats'] as BusKind[]) {
  t.test(`${kind}: contract`, async t => {
    if (kind === 'nats' && !(await requireNatsServer(t))) return

    t.test('inputs reach the consumer, in the order of each publisher, and the publish resolves', async t => {
      const { open } = await busFactory(t, kind)
      const ledgerBus = await open('core')
      const got: BusInput[] = []
      await ledgerBus.consumeInputs(async inputs => { got.push(...inputs) })
      const [a, b] = [await open('web1'), await open('web2')]
      const fromA = Array.from({ length: 200 }, (_, i) => logEvent('web1', ip(i), T0 + i))
      const fromB = Array.from({ length: 200 }, (_, i) => logEvent('web2', ip(i), T0 + i))
      await Promise.all([
        (async () => { for (let i = 0; i < 200; i += 50) await a.publishInputs(fromA.slice(i, i + 50)) })(),
        (async () => { for (let i = 0; i < 200; i += 50) await b.publishInputs(fromB.slice(i, i + 50)) })(),
      ])
      await waitFor(() => got.length >= 400, { what: '400 inputs', timeout: 10_000 })
      t.same(got.filter(e => e.type === 'log' && e.host === 'web1').map(e => e.id), fromA.map(e => e.id), 'web1 in order')
      t.same(got.filter(e => e.type === 'log' && e.host === 'web2').map(e => e.id), fromB.map(e => e.id), 'web2 in order')
      t.same(got.find(e => e.id === fromA[7]?.id), fromA[7], 'the input arrives as sent')
    })

    t.test('inputs a consumer failed to store are not lost: the publish rejects, or the next consumer gets them', async t => {
      const { open } = await busFactory(t, kind)
      const ledgerBus = await open('core')
      let tried = 0
      const failing = await ledgerBus.consumeInputs(async () => { tried++; throw new Error('disk full') })
      const watcher = await open('web1')
      const events = [logEvent('web1', ip(1), T0), logEvent('web1', ip(2), T0 + 1)]
      const outcome = await watcher.publishInputs(events).then(() => 'stored', () => 'rejected')
      await waitFor(() => tried > 0, { what: 'the failing consumer to see the inputs' })
      await failing.unsubscribe()
      const got: BusInput[] = []
      await ledgerBus.consumeInputs(async inputs => { got.push(...inputs) })
      if (outcome === 'rejected') await watcher.publishInputs(events)
      await waitFor(() => got.length >= 2, { what: 'the inputs again', timeout: 15_000 })
      t.same(got.map(e => e.id), events.map(e => e.id))
    })

    t.test('decisions of committed entries reach every group, and one member of each group', async t => {
      const { open } = await busFactory(t, kind)
      const ledgerBus = await open('core')
      const feed = new MemoryFeed()
      await ledgerBus.publishLedger(feed)
      const got = new Map<string, Decision[]>()
      const member = (name: string) => (ds: readonly Decision[]) => { got.set(name, [...got.get(name) ?? [], ...ds]) }
      await (await open('web1')).subscribeDecisions('firewall-web1', member('fw1'))
      await (await open('web2')).subscribeDecisions('firewall-web2', member('fw2'))
      const n1 = await open('core')
      const n2 = await open('core')
      await n1.subscribeDecisions('notifier', member('n1'))
      await n2.subscribeDecisions('notifier', member('n2'))
      const committed = feed.commitBans(Array.from({ length: 20 }, (_, i) => ip(i)), T0)
      const ids = committed.map(e => `${e.seq}.0`)
      await waitFor(() => got.get('fw1')?.length === 20 && got.get('fw2')?.length === 20 &&
        (got.get('n1')?.length ?? 0) + (got.get('n2')?.length ?? 0) === 20, { what: 'decisions everywhere', timeout: 10_000 })
      t.same(got.get('fw1')?.map(d => d.id), ids, 'firewall-web1 has every decision, in order')
      t.same(got.get('fw2')?.map(d => d.id), ids, 'firewall-web2 too')
      const notified = [...got.get('n1') ?? [], ...got.get('n2') ?? []].map(d => d.id).sort()
      t.same(notified, [...ids].sort(), 'the notifier group handled each decision once')
      t.match(got.get('fw1')?.[0], { type: 'ban', jail: 'ssh', ip: ip(0), reason: 'operator', seq: 1, until: T0 + 3_600_000 })
    })

    t.test('a snapshot comes back whole (in chunks on NATS), with its sequence', async t => {
      const { open } = await busFactory(t, kind)
      const ledgerBus = await open('core')
      const bans = Array.from({ length: 4500 }, (_, i) => ({
        jail: 'ssh', ip: `2001:db8::${i.toString(16)}`,
        since: T0, until: T0 + i, reason: 'maxretry' as const,
      }))
      const served: BanSnapshot = { seq: 42, at: T0, bans }
      await ledgerBus.serveSnapshots(() => served)
      const worker = await open('web3')
      t.same(await worker.snapshot(), served)
    })

    t.test('without a ledger, a snapshot request fails with BANLEDGER_BUS_NO_LEDGER', async t => {
      const { open } = await busFactory(t, kind)
      const worker: Bus = await open('web3')
      await t.rejects(worker.snapshot(), { code: 'BANLEDGER_BUS_NO_LEDGER' })
    })
  })
}
