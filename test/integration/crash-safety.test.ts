// R4 and DESIGN invariant 1: a child appends in a tight loop and reports
// each acknowledged id; it is killed with SIGKILL at random moments. After
// each kill, every acknowledged event is in the ledger exactly once and
// replay equals the stored projections.
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { decodeEntry } from '../../proto/wire.js'
import { LedgerStore } from '../../ledger/store/ledger-store.js'
import { verify } from '../../ledger/store/log-reader.js'
import { waitFor } from '../helpers/wait-for.js'

const CHILD = new URL('../helpers/crash-child.ts', import.meta.url).pathname
const KILLS = 20

t.test(`SIGKILL ${KILLS} times mid-append: no acknowledged event lost, none stored twice`, async t => {
  const dir = await mkdtemp(join(tmpdir(), 'banledger-crash-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const ledgerDir = join(dir, 'ledger')
  const acked = new Set<string>()
  let previous: string[] = []

  for (let run = 0; run < KILLS; run++) {
    const resend = join(dir, 'resend.txt')
    const args = ['--import=tsx', CHILD, ledgerDir, String(run)]
    if (previous.length > 0) {
      await writeFile(resend, previous.slice(-200).join('\n'))
      args.push(resend)
    }
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
    t.teardown(() => { child.kill('SIGKILL') })
    await waitFor(() => out.includes('ack ') || child.exitCode !== null, { timeout: 30_000, what: `run ${run}: first ack` })
    if (child.exitCode !== null) t.fail(`child exited early: ${err}`)
    // Kill at a random moment while it keeps appending.
    const target = out.length + Math.floor(Math.random() * 20_000)
    await waitFor(() => out.length >= target || child.exitCode !== null, { timeout: 30_000, what: `run ${run}: more acks` })
    child.kill('SIGKILL')
    await exited
    if (previous.length > 0) t.match(out, /^resent-ok$/m, `run ${run}: re-sent acknowledged ids were duplicates`)
    // Only whole lines were acknowledged; a cut last line is not.
    const lines = out.split('\n').slice(0, -1).filter(l => l.startsWith('ack '))
    previous = lines.flatMap(l => l.slice(4).split(' '))
    for (const id of previous) acked.add(id)

    const store = await LedgerStore.open(ledgerDir)
    try {
      const ids = [...acked]
      const seqs = await store.seqsOf(ids)
      const missing = ids.filter((_, i) => seqs[i] === undefined)
      t.same(missing, [], `run ${run}: every acknowledged event is stored`)
      const causes = new Map<string, number>()
      for await (const entries of store.entries()) {
        for (const bytes of entries) {
          const cause = decodeEntry(bytes).cause
          if (cause.type !== 'tick') causes.set(cause.id, (causes.get(cause.id) ?? 0) + 1)
        }
      }
      const twice = [...causes].filter(([, c]) => c > 1)
      t.same(twice, [], `run ${run}: no event is stored twice`)
      const report = await verify(store)
      t.same(report.mismatches, [], `run ${run}: replay equals the stored projections`)
    } finally {
      await store.close()
    }
  }
  t.ok(acked.size > KILLS, `${acked.size} acknowledged events checked across ${KILLS} kills`)
})
