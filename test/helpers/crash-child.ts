// Child process for the crash-safety test: appends events to the ledger in
// a tight loop and prints "ack <id> <id> ..." after each synced submit.
// Usage: node --import tsx crash-child.ts DIR RUN [RESEND_IDS_FILE]
import { readFileSync } from 'node:fs'
import { Ledger } from '../../ledger/ledger.js'
import type { LogEvent } from '../../ledger/rules/types.js'
import { rulesContext, T0 } from './rules.js'

const [dir, run, resendFile] = process.argv.slice(2)
if (dir === undefined || run === undefined) throw new TypeError('usage: crash-child DIR RUN [RESEND_IDS_FILE]')

const ledger = await Ledger.open({ dir, rules: rulesContext({ ssh: { maxretry: 3 } }) })
const event = (id: string, n: number): LogEvent => ({
  type: 'log', kind: n % 7 === 0 ? 'success' : 'failure', id, jail: 'ssh',
  ip: `198.51.100.${n % 200}`, at: T0 + n * 1000, host: 'crash', source: 'test',
})

// Re-send ids acknowledged by an earlier run: they must be dropped as duplicates.
if (resendFile !== undefined) {
  const ids = readFileSync(resendFile, 'utf8').split('\n').filter(Boolean)
  const results = await ledger.submit(ids.map((id, i) => event(id, i)))
  if (results.some(r => !r.duplicate)) throw new Error('a re-sent acknowledged id was not a duplicate')
  process.stdout.write('resent-ok\n')
}

let n = 0
for (;;) {
  const batch: LogEvent[] = []
  const size = 1 + (n % 50)
  for (let i = 0; i < size; i++, n++) batch.push(event(`r${run}-${n}`, n + Number(run) * 100_000))
  // Several submits in flight, so group commit groups them.
  await Promise.all([ledger.submit(batch.slice(0, size >> 1)), ledger.submit(batch.slice(size >> 1))])
  process.stdout.write(`ack ${batch.map(e => e.id).join(' ')}\n`)
}
