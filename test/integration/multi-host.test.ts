// A fleet on NATS (issue 4), as a sysadmin deploys it: one nats-server, a
// ledger process, and three "hosts" (separate processes, each with its own
// data dir, host name and log file) running watchers and firewall workers
// with the dry-run backend. Failures for one address seen on web1 and web2
// count together; the ban is enforced on web1, web2 and web3.
import { appendFile } from 'node:fs/promises'
import t from 'tap'
import { bansJson, cli, sshdLine, startService, tempDir } from '../helpers/cli.js'
import { enforced, hostConfig } from '../helpers/fleet.js'
import { requireNatsServer, startNats } from '../helpers/nats-server.js'
import { waitFor } from '../helpers/wait-for.js'

const ATTACKER = '192.0.2.66'

t.test('failures on two hosts count together; the ban reaches the firewalls of three hosts', async t => {
  if (!(await requireNatsServer(t))) return
  const server = await startNats(t)
  const root = await tempDir(t)
  const core = await hostConfig(root, 'core', server)
  const web1 = await hostConfig(root, 'web1', server)
  const web2 = await hostConfig(root, 'web2', server)
  const web3 = await hostConfig(root, 'web3.example.org', server)
  const ledger = await startService(t, core.config, ['--role', 'ledger'])
  const hosts = await Promise.all([
    startService(t, web1.config, ['--role', 'watcher,firewall']),
    startService(t, web2.config, ['--role', 'watcher', '--role', 'firewall']),
    startService(t, web3.config, ['--role', 'firewall']),
  ])
  const now = Date.now()
  const fail = (i: number) => sshdLine(new Date(now - 10_000 + i * 1000), `Failed password for root from ${ATTACKER} port ${40000 + i} ssh2`)
  await appendFile(web1.log, fail(0) + fail(1))
  await appendFile(web2.log, fail(2) + fail(3))
  for (const [i, h] of hosts.entries()) {
    await waitFor(() => enforced(h, ATTACKER), { what: `the ban on host ${i + 1}`, timeout: 15_000 })
  }
  const bans = await bansJson(core.config)
  t.match(bans, [{ jail: 'ssh', ip: ATTACKER, reason: 'maxretry' }], 'one ban in the ledger')
  t.equal(bans.length, 1)
  t.equal(ledger.output().split('\n').filter(l => l.includes(`"decision"`) && l.includes(ATTACKER)).length, 1, 'one decision')

  // An operator on web3, which holds no ledger: the command goes over the bus.
  const sent = await cli(['ban', '192.0.2.77', '--jail', 'ssh', '--reason', 'seen in a report', '--config', web3.config])
  t.equal(sent.code, 0, sent.stderr)
  t.match(sent.stdout, /sent to the ledger over NATS/)
  for (const [i, h] of hosts.entries()) {
    await waitFor(() => enforced(h, '192.0.2.77'), { what: `the operator's ban on host ${i + 1}`, timeout: 15_000 })
  }
  t.same((await bansJson(web3.config)).map(b => b.ip).sort(), ['192.0.2.66', '192.0.2.77'], 'bans on web3 come from a snapshot')
  t.match((await cli(['explain', ATTACKER, '--config', web3.config])).stderr, /run it on the ledger host/)
})
