// A full disk: the ledger refuses inputs with a clear error and tells its
// owner once, never acknowledging an event it could not store (R4).
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { Ledger, LedgerFailedError } from '../../ledger/ledger.js'
import type { LogEvent } from '../../ledger/rules/types.js'
import { rulesContext, T0 } from '../helpers/rules.js'

const run = promisify(execFile)
const root = process.getuid?.() === 0
if (!root && process.env['CI'] === 'true') throw new Error('CI runs as root and must run the disk-full test')
const when = root ? {} : { skip: 'not root: mounting a small tmpfs needs root' }

t.test('a write that fails (ENOSPC) fails the ledger, loudly and once', when, async t => {
  const dir = await mkdtemp(join(tmpdir(), 'banledger-full-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await run('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir])
  t.teardown(() => run('umount', ['-l', dir]))
  const ledger = await Ledger.open({ dir: join(dir, 'ledger'), rules: rulesContext() })
  t.teardown(() => ledger.close().catch(() => {}))
  const failures: Error[] = []
  ledger.onFailure(err => failures.push(err))
  const acked: string[] = []
  let error: unknown = null
  for (let b = 0; b < 2000 && error === null; b++) {
    const batch: LogEvent[] = Array.from({ length: 500 }, (_, i) => ({
      type: 'log', kind: 'failure', id: `full/${b}/${i}/${'x'.repeat(200)}`, jail: 'ssh',
      ip: `198.51.100.${(b * 500 + i) % 250}`, at: T0 + b * 500 + i, host: 'h', source: 's',
    }))
    try {
      await ledger.submit(batch)
      acked.push(...batch.map(e => e.id))
    } catch (err) {
      error = err
    }
  }
  t.type(error, LedgerFailedError, 'the disk filled up and submit rejected')
  t.match((error as Error).message, /ledger write failed/)
  t.equal(failures.length, 1, 'the owner is told once')
  await t.rejects(ledger.submit([{ type: 'tick', at: T0 }]), LedgerFailedError, 'later inputs are refused too')
  t.ok(acked.length > 0, `${acked.length} events were acknowledged before the disk filled up`)
})
