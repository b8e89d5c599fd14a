// What the ledger takes from the events stream (issue 4): garbage (not
// protobuf, the wrong kind of input, absurd times) and forged host claims
// are logged and skipped, never a crash, and the rest flows.
import { join } from 'node:path'
import { connect } from 'nats'
import t from 'tap'
import { parseConfig } from '../../ops/config/load-config.js'
import { decodeEntry, encodeInput } from '../../proto/wire.js'
import { buildService } from '../../services/run/service.js'
import { captureLogs, logEvent } from '../helpers/bus-kit.js'
import { tempDir } from '../helpers/cli.js'
import { requireNatsServer, startNats } from '../helpers/nats-server.js'
import { waitFor } from '../helpers/wait-for.js'

t.test('garbage and forged claims on the events subjects are dropped with a reason; valid events flow', async t => {
  if (!(await requireNatsServer(t))) return
  const server = await startNats(t)
  const dir = await tempDir(t)
  const config = parseConfig(`
data_dir: ${join(dir, 'data')}
host: core
ignore_self: false
firewall: { backend: dry-run }
bus: { nats: { servers: [${server.url}] } }
jails:
  ssh: { filter: sshd, logpath: ${join(dir, 'auth.log')} }
`, join(dir, 'banledger.yaml'), { hostname: 'core' })
  const logs = captureLogs('info')
  const service = buildService(config, { logger: logs.logger, roles: ['ledger'] })
  t.teardown(() => service.stop())
  await service.start()

  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  const js = nc.jetstream()
  const now = Date.now()
  const subject = 'banledger.events.web1.ssh'
  await js.publish(subject, new TextEncoder().encode('not protobuf at all \u0000\u00ff'), { msgID: 'garbage-1' })
  await js.publish(subject, Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0x0f), { msgID: 'garbage-2' })
  await js.publish(subject, encodeInput({ type: 'operator', action: 'ban', id: 'op-1', jail: 'ssh', ip: '192.0.2.9', at: now, actor: 'x', reason: 'x' }), { msgID: 'op-1' })
  await js.publish(subject, encodeInput(logEvent('web2', '192.0.2.10', now)), { msgID: 'forged-1' })
  await js.publish(subject, encodeInput(logEvent('web1', '192.0.2.11', now, { jail: 'smtp' })), { msgID: 'forged-2' })
  await js.publish(subject, encodeInput(logEvent('web1', '192.0.2.12', 5)), { msgID: 'absurd-1' })
  await js.publish(subject, encodeInput(logEvent('web1', '192.0.2.13', now + 3 * 365 * 86_400_000)), { msgID: 'absurd-2' })
  const good = logEvent('web1', '192.0.2.14', now - 1000)
  await js.publish(subject, encodeInput(good), { msgID: good.id })

  const jsm = await nc.jetstreamManager()
  await waitFor(async () => (await jsm.streams.info('BANLEDGER_LEDGER')).state.last_seq >= 1, { what: 'the valid event in the ledger' })
  const entry = decodeEntry((await jsm.streams.getMessage('BANLEDGER_LEDGER', { seq: 1 })).data)
  t.match(entry.cause, { type: 'log', id: good.id, ip: '192.0.2.14', host: 'web1' }, 'the valid event is entry 1')
  t.equal((await jsm.streams.info('BANLEDGER_LEDGER')).state.last_seq, 1, 'nothing else was stored')
  const text = logs.lines.join('')
  t.match(text, /dropped a message on banledger.events.web1.ssh: not a LedgerInput/, 'garbage')
  t.match(text, /an input of type operator on an events subject/, 'the wrong kind of input')
  t.match(text, /claims host \\"web2\\" on the subject of web1/, 'a forged host')
  t.match(text, /claims jail \\"smtp\\" on the subject of ssh/, 'a forged jail')
  t.equal(text.match(/not a plausible time/g)?.length, 2, 'absurd times')
  const info = await jsm.consumers.info('BANLEDGER_EVENTS', 'ledger')
  t.equal(info.num_ack_pending + info.num_pending, 0, 'every message, dropped or stored, is acknowledged')
})
