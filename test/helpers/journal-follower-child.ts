// Child process for the journal follower test: one JournalFollower, run
// inside the private journal's namespace (helpers/journal-ns.ts), reporting
// on stdout one JSON object per line:
//   {"lines":["<text>",...]}  each onLines call (after it resolved, unless "reject")
//   {"failed":"<message>"}    when the follower stopped by itself (then it exits 3)
// SIGTERM closes the follower and the store (flushing the cursor), then exits 0.
// Usage: node --import tsx journal-follower-child.ts OFFSETS_FILE SINCE_MS MATCH [reject]
// With `reject`, onLines rejects: nothing may be committed.
import { JournalFollower } from '../../services/watcher/journal-follower.js'
import { formatMatch, parseJournalMatch } from '../../services/watcher/journal-match.js'
import { OffsetStore } from '../../services/watcher/offset-store.js'

const [file, since, match, mode] = process.argv.slice(2)
const matches = parseJournalMatch(match ?? '')
if (file === undefined || since === undefined || typeof matches === 'string') throw new TypeError(`usage: journal-follower-child OFFSETS SINCE MATCH [reject] (${String(matches)})`)

const say = (o: unknown): void => { process.stdout.write(`${JSON.stringify(o)}\n`) }
const offsets = new OffsetStore(file, { flushInterval: 10 })
const follower = new JournalFollower({
  key: `journal:${formatMatch(matches)}`, matches, offsets, maxLineBytes: 8192, since: Number(since),
  onLines: async lines => {
    if (mode === 'reject') throw new Error('the bus is down')
    say({ lines: lines.map(l => l.text) })
  },
})
await follower.start()
void follower.stopped.then(async () => {
  if (follower.state !== 'failed') return
  say({ failed: follower.error?.message })
  await offsets.close()
  process.exit(3)
})
process.once('SIGTERM', () => {
  void (async () => {
    await follower.close()
    await offsets.close()
    process.exit(0)
  })()
})
