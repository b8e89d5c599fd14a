// FileFollower against real files in a temp dir: appends, partial lines,
// rotation (rename+create, copytruncate, delete), restarts with the offset
// store, failures of onLines, and hostile bytes.
import t from 'tap'
import type { Test } from 'tap'
import { appendFile, copyFile, mkdir, mkdtemp, open, rename, rm, rmdir, truncate, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileFollower } from '../../services/watcher/file-follower.js'
import type { FollowerOptions, LogLine } from '../../services/watcher/file-follower.js'
import { OffsetStore } from '../../services/watcher/offset-store.js'
import { SEEK_MIN_SIZE, seekByTime } from '../../services/watcher/seek-by-time.js'
import { patience } from '../helpers/patience.js'
import { waitFor } from '../helpers/wait-for.js'

type Env = { dir: string; log: string; offsetsFile: string }

type Run = {
  follower: FileFollower
  store: OffsetStore
  lines: LogLine[]
  errors: Error[]
  /** A clean stop: the follower, then the store (which flushes). */
  stop: () => Promise<void>
}

async function makeEnv(t: Test): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'banledger-follower-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return { dir, log: join(dir, 'auth.log'), offsetsFile: join(dir, 'watcher', 'offsets.json') }
}

/** Starts a follower (and its own OffsetStore on env.offsetsFile). */
async function run(t: Test, env: Env, opts: Partial<FollowerOptions> = {}): Promise<Run> {
  const store = new OffsetStore(env.offsetsFile, { flushInterval: 10 })
  t.teardown(() => store.close())
  const lines: LogLine[] = []
  const errors: Error[] = []
  const follower = new FileFollower({
    path: env.log,
    offsets: store,
    maxLineBytes: 4096,
    pollInterval: 10,
    onLines: async (batch) => { lines.push(...batch) },
    onError: (err) => { errors.push(err) },
    ...opts,
  })
  t.teardown(() => follower.close())
  await follower.start()
  return { follower, store, lines, errors, stop: async () => { await follower.close(); await store.close() } }
}

const texts = (lines: readonly LogLine[]): string[] => lines.map((l) => l.text)
const codes = (errors: readonly Error[]): unknown[] => errors.map((e) => (e as Error & { code?: unknown }).code)

/** Waits until `text` was delivered (it is last in what we expect). */
function delivered(lines: readonly LogLine[], text: string): Promise<boolean> {
  return waitFor(() => lines.some((l) => l.text === text), { what: `line ${JSON.stringify(text)}` })
}

/** An onLines that records lines and, on the batch holding `text`, waits
 *  for `release()`: the follower reads nothing while it waits, so the test
 *  can change the files at a known point of the follower's progress. */
function heldAt(text: string): { lines: LogLine[]; onLines: FollowerOptions['onLines']; reached: Promise<boolean>; release: () => void } {
  const lines: LogLine[] = []
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  return {
    lines,
    release,
    get reached() { return delivered(lines, text) },
    onLines: async (batch) => {
      lines.push(...batch)
      if (batch.some((l) => l.text === text)) await gate
    },
  }
}

t.test('appended lines are delivered in order, with byte offsets and one identity', async (t) => {
  const env = await makeEnv(t)
  await writeFile(env.log, 'a1\nb22\n')
  const r = await run(t, env)
  await delivered(r.lines, 'b22')
  await appendFile(env.log, 'c333\n')
  await delivered(r.lines, 'c333')
  t.same(texts(r.lines), ['a1', 'b22', 'c333'])
  t.same(r.lines.map((l) => l.offset), [0, 3, 7])
  t.match(r.lines[0]?.fileId, /^\d+:\d+:[0-9a-f]{8}$/)
  t.same(new Set(r.lines.map((l) => l.fileId)).size, 1)
  t.ok(r.lines.every((l) => l.path === env.log && !('truncated' in l)))
  t.equal(r.follower.state, 'following')
  t.same(r.errors, [])
})

t.test('a partial line waits for its newline; CR LF is stripped', async (t) => {
  const env = await makeEnv(t)
  await writeFile(env.log, 'one\ntw')
  const r = await run(t, env)
  await delivered(r.lines, 'one') // read in the same read as "tw", which was held back
  t.same(texts(r.lines), ['one'])
  await appendFile(env.log, 'o\nthree\r\n')
  await delivered(r.lines, 'three')
  t.same(texts(r.lines), ['one', 'two', 'three'])
  t.same(r.lines.map((l) => l.offset), [0, 4, 8])
})

t.test('rename+create while running: the old file is finished first, nothing lost or repeated', async (t) => {
  const env = await makeEnv(t)
  await writeFile(env.log, 'old-1\nold-2\n')
  const h = heldAt('old-2')
  const r = await run(t, env, { onLines: h.onLines })
  await h.reached
  await appendFile(env.log, 'old-3\n')
  await rename(env.log, `${env.log}.1`)
  await appendFile(`${env.log}.1`, 'old-4\nold-5-partial') // the daemon writes on until it reopens
  await writeFile(env.log, 'new-1\n')
  h.release() // its next poll sees the new file, with lines unread in the old one
  await delivered(h.lines, 'new-1')
  await appendFile(env.log, 'new-2\n')
  await delivered(h.lines, 'new-2')
  t.same(texts(h.lines), ['old-1', 'old-2', 'old-3', 'old-4', 'old-5-partial', 'new-1', 'new-2'])
  const [oldId, newId] = [h.lines[0]?.fileId, h.lines[5]?.fileId]
  t.ok(h.lines.slice(0, 5).every((l) => l.fileId === oldId))
  t.ok(h.lines.slice(5).every((l) => l.fileId === newId))
  t.not(oldId, newId)
  t.equal(h.lines[5]?.offset, 0)
  t.ok(codes(r.errors).every((c) => c === 'BANLEDGER_FOLLOWER_FILE_MISSING'), 'at most the gap between rename and create')
})

t.test('copytruncate: restarts at 0 with a new identity; unread lines come from the copy', async (t) => {
  const env = await makeEnv(t)
  await writeFile(env.log, 'c-1 first\nc-2\n')
  const h = heldAt('c-2')
  const r = await run(t, env, { onLines: h.onLines })
  await h.reached
  await appendFile(env.log, 'c-3\n') // not read before the truncation: only the copy has it
  await copyFile(env.log, `${env.log}.1`)
  await truncate(env.log, 0)
  await appendFile(env.log, 't-1\n')
  h.release()
  await delivered(h.lines, 't-1')
  await appendFile(env.log, 't-2\n')
  await delivered(h.lines, 't-2')
  t.same(texts(h.lines), ['c-1 first', 'c-2', 'c-3', 't-1', 't-2'])
  t.equal(h.lines[3]?.offset, 0)
  const oldId = h.lines[0]?.fileId ?? ''
  const newId = h.lines[3]?.fileId ?? ''
  t.not(newId, oldId, 'same inode, new content: a new identity, so new event ids')
  t.equal(newId.split(':').slice(0, 2).join(':'), oldId.split(':').slice(0, 2).join(':'), 'same dev and inode')
  t.same(r.errors, [])
})

t.test('truncated and rewritten past the old offset before a poll: detected by the first line', async (t) => {
  const env = await makeEnv(t)
  await writeFile(env.log, 'first\n')
  const h = heldAt('first')
  const r = await run(t, env, { onLines: h.onLines })
  await h.reached
  await writeFile(env.log, 'second generation\nmore\n') // same inode, longer than before
  h.release()
  await delivered(h.lines, 'more')
  t.same(texts(h.lines), ['first', 'second generation', 'more'])
  t.same(h.lines.map((l) => l.offset), [0, 0, 18])
  t.equal(r.follower.state, 'following')
})

t.test('delete then re-create: the open file is read to its end, one missing report, then the new file', async (t) => {
  const env = await makeEnv(t)
  await writeFile(env.log, 'd-1\n')
  const r = await run(t, env)
  await delivered(r.lines, 'd-1')
  const daemon = await open(env.log, 'a')
  t.teardown(() => daemon.close())
  await unlink(env.log)
  await waitFor(() => r.follower.state === 'waiting', { what: 'state waiting' })
  await daemon.write('d-2-late\n')
  await delivered(r.lines, 'd-2-late')
  await daemon.write('d-3-late\n')
  await delivered(r.lines, 'd-3-late')
  await daemon.write('d-4-partial')
  await writeFile(env.log, 'r-1\n')
  await delivered(r.lines, 'r-1')
  t.same(texts(r.lines), ['d-1', 'd-2-late', 'd-3-late', 'd-4-partial', 'r-1'])
  t.same(codes(r.errors), ['BANLEDGER_FOLLOWER_FILE_MISSING'], 'reported once, then waited quietly')
  t.equal(r.follower.state, 'following')
})

t.test('a file missing at start is waited for and read from its start (even with startAt end)', async (t) => {
  const env = await makeEnv(t)
  const r = await run(t, env, { startAt: 'end' })
  t.equal(r.follower.state, 'waiting')
  await waitFor(() => r.errors.length === 1, { what: 'the missing report' })
  await writeFile(env.log, 'm-1\nm-2\n')
  await delivered(r.lines, 'm-2')
  t.same(texts(r.lines), ['m-1', 'm-2'])
  t.same(codes(r.errors), ['BANLEDGER_FOLLOWER_FILE_MISSING'])
  t.equal(r.follower.state, 'following')
})

t.test('a path that is not a regular file is reported once and waited on; a throwing onError is harmless', async (t) => {
  const env = await makeEnv(t)
  await mkdir(env.log)
  const errors: Error[] = []
  const r = await run(t, env, { onError: (err) => { errors.push(err); throw new Error('logger broke') } })
  await waitFor(() => errors.length === 1, { what: 'the report' })
  t.match(errors[0], { name: 'FollowerError', code: 'BANLEDGER_FOLLOWER_OPEN_FAILED' })
  t.equal(r.follower.state, 'waiting')
  await rmdir(env.log)
  await writeFile(env.log, 'p-1\n')
  await delivered(r.lines, 'p-1')
  t.equal(errors.length, 1)
  t.equal(r.follower.state, 'following')
})

t.test('startAt end skips what a never-seen file holds, up to its last newline', async (t) => {
  const env = await makeEnv(t)
  await writeFile(env.log, 's-1\ns-2\npart')
  const r = await run(t, env, { startAt: 'end' })
  await appendFile(env.log, 'ial\ns-3\n')
  await delivered(r.lines, 's-3')
  t.same(texts(r.lines), ['partial', 's-3'])
})

t.test('a restart resumes after the committed lines', async (t) => {
  const env = await makeEnv(t)
  await writeFile(env.log, 'r-1\nr-2\nr-3\n')
  const a = await run(t, env)
  await delivered(a.lines, 'r-3')
  await a.stop()
  t.equal(a.follower.state, 'closed')
  await appendFile(env.log, 'r-4\nr-5\n')
  const b = await run(t, env, { startAt: 'start' })
  await delivered(b.lines, 'r-5')
  t.same(texts(b.lines), ['r-4', 'r-5'])
  t.equal(b.lines[0]?.fileId, a.lines[0]?.fileId)
  t.equal(b.lines[0]?.offset, 12)
})

t.test('a stored offset beyond the end (truncated while stopped) starts over at 0', async (t) => {
  const env = await makeEnv(t)
  await writeFile(env.log, 'k-1\nk-2\nk-3\n')
  const a = await run(t, env)
  await delivered(a.lines, 'k-3')
  await a.stop()
  await writeFile(env.log, 'k-1\n') // same inode and first line: same identity, but shorter
  const b = await run(t, env)
  await delivered(b.lines, 'k-1')
  await appendFile(env.log, 'k-2b\n')
  await delivered(b.lines, 'k-2b')
  t.same(texts(b.lines), ['k-1', 'k-2b'])
})

t.test('onLines rejecting: the follower fails, keeps the error, and the lines come again after a restart', async (t) => {
  const env = await makeEnv(t)
  await writeFile(env.log, 'f-1\nf-2\nf-3\nf-4\n')
  const acked: string[] = []
  let calls = 0
  const a = await run(t, env, {
    maxChunkLines: 2,
    onLines: async (batch) => {
      calls++
      if (calls === 2) throw new Error('bus down')
      acked.push(...texts(batch))
    },
  })
  await a.follower.stopped
  t.equal(a.follower.state, 'failed')
  t.match(a.follower.error, { message: 'bus down' })
  t.equal(calls, 2, 'no retry by itself')
  t.same(acked, ['f-1', 'f-2'])
  await a.stop()
  t.equal(a.follower.state, 'failed', 'close keeps the failed state')

  const b = await run(t, env)
  await delivered(b.lines, 'f-4')
  await appendFile(env.log, 'f-5\n')
  await delivered(b.lines, 'f-5')
  t.same(texts(b.lines), ['f-3', 'f-4', 'f-5'])
})

t.test('overlong lines are cut once, flagged, and the next line is intact', async (t) => {
  const env = await makeEnv(t)
  const huge = 'y'.repeat(200_000) // spans several 64 KiB reads
  await writeFile(env.log, `short\n${huge}\nafter\na${'é'.repeat(10)}\n${'z'.repeat(16)}\r\nsync\n${'w'.repeat(30)}`)
  const r = await run(t, env, { maxLineBytes: 16 })
  await delivered(r.lines, 'sync')
  await appendFile(env.log, `${'w'.repeat(30)}\nok\n`) // the cut line goes on across polls
  await delivered(r.lines, 'ok')
  t.same(texts(r.lines), ['short', 'y'.repeat(16), 'after', `a${'é'.repeat(7)}`, 'z'.repeat(16), 'sync', 'w'.repeat(16), 'ok'])
  t.same(r.lines.map((l) => l.truncated === true), [false, true, false, true, false, false, true, false])
  t.ok(r.lines.filter((l) => l.truncated !== true).every((l) => !('truncated' in l)), 'key omitted when not cut')
  t.equal(r.lines[2]?.offset, 6 + huge.length + 1)
})

t.test('invalid UTF-8 and NUL bytes are decoded without crashing', async (t) => {
  const env = await makeEnv(t)
  await writeFile(env.log, Buffer.concat([
    Buffer.from([0x66, 0xff, 0xfe, 0x00, 0x67, 0x0d, 0x0a]),
    Buffer.from([0xc3, 0x0a]),
    Buffer.from('ok\n'),
  ]))
  const r = await run(t, env)
  await delivered(r.lines, 'ok')
  t.same(texts(r.lines), ['f\uFFFD\uFFFD\u0000g', '\uFFFD', 'ok'])
  t.equal(r.follower.state, 'following')
})

t.test('a rotation while stopped: the rest of auth.log.1 first, then the new file from its start', async (t) => {
  const env = await makeEnv(t)
  await writeFile(env.log, 'o-1\no-2\n')
  const a = await run(t, env)
  await delivered(a.lines, 'o-2')
  await a.stop()
  await appendFile(env.log, 'o-3\n') // never read before the rotation
  await rename(env.log, `${env.log}.1`)
  await writeFile(env.log, 'n-1\n')
  const b = await run(t, env, { startAt: 'end' }) // a successor is read from its start anyway
  await delivered(b.lines, 'n-1')
  await appendFile(env.log, 'n-2\n')
  await delivered(b.lines, 'n-2')
  t.same(texts(b.lines), ['o-3', 'n-1', 'n-2'])
  t.equal(b.lines[0]?.fileId, a.lines[0]?.fileId)
  t.equal(b.lines[0]?.offset, 8)

  // Once finished, auth.log.1 is not read again on the next restart.
  await b.stop()
  const c = await run(t, env)
  await appendFile(env.log, 'n-3\n')
  await delivered(c.lines, 'n-3')
  t.same(texts(c.lines), ['n-3'])
})

t.test('known gap: a rotation while stopped to a name other than auth.log.1 loses the old rest', async (t) => {
  const env = await makeEnv(t)
  await writeFile(env.log, 'o-1\n')
  const a = await run(t, env)
  await delivered(a.lines, 'o-1')
  await a.stop()
  await appendFile(env.log, 'o-2\n')
  await rename(env.log, `${env.log}-20240101`)
  await writeFile(env.log, 'n-1\n')
  const b = await run(t, env)
  await delivered(b.lines, 'n-1')
  t.same(texts(b.lines), ['n-1'])
})

t.test('close is prompt while waiting, idempotent, and resolves `stopped`', async (t) => {
  const env = await makeEnv(t)
  const r = await run(t, env, { pollInterval: 60_000 })
  await waitFor(() => r.errors.length === 1, { what: 'the first poll' })
  const began = Date.now()
  await Promise.all([r.follower.close(), r.follower.close()])
  t.ok(Date.now() - began < patience(1000), 'the poll timer (60 s) was cancelled')
  await r.follower.stopped
  t.equal(r.follower.state, 'closed')
  await r.follower.close()
  t.throws(() => r.follower.start(), TypeError)
})

t.test('close waits for an in-flight onLines, commits its lines, and delivers nothing further', async (t) => {
  const env = await makeEnv(t)
  await writeFile(env.log, 'h-1\nh-2\nh-3\n')
  const seen: string[] = []
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const a = await run(t, env, {
    maxChunkLines: 1,
    onLines: async (batch) => {
      seen.push(...texts(batch))
      await held
    },
  })
  await waitFor(() => seen.length === 1, { what: 'the first onLines call' })
  let closed = false
  const closing = a.follower.close().then(() => { closed = true })
  await new Promise((resolve) => setImmediate(resolve))
  t.notOk(closed, 'close waits for onLines')
  release()
  await closing
  t.same(seen, ['h-1'])
  await a.store.close()

  const b = await run(t, env)
  await delivered(b.lines, 'h-3')
  t.same(texts(b.lines), ['h-2', 'h-3'], 'h-1 was acknowledged, so committed')
})

t.test('bad options are programming errors', async (t) => {
  const env = await makeEnv(t)
  const offsets = new OffsetStore(env.offsetsFile)
  t.teardown(() => offsets.close())
  const base = { path: env.log, offsets, onLines: async () => {}, maxLineBytes: 10, pollInterval: 10 }
  t.throws(() => new FileFollower({ ...base, maxLineBytes: 0 }), TypeError)
  t.throws(() => new FileFollower({ ...base, pollInterval: 0 }), TypeError)
  t.throws(() => new FileFollower({ ...base, maxChunkLines: 0 }), TypeError)
})

// -- first start in a large file: bisect to the horizon (seek-by-time.ts) --

const HOUR = 3_600_000
const SEEK_END = Date.UTC(2026, 10, 21, 12, 0, 0)
/** `n` RFC 3339 lines over the 10 days before SEEK_END, ascending. */
function timedLog(n: number): { text: string; times: number[] } {
  const times = Array.from({ length: n }, (_, i) => SEEK_END - 240 * HOUR + Math.floor((i * 240 * HOUR) / n))
  const text = times.map((at, i) => `${new Date(at).toISOString().replace('Z', '+00:00')} web1 sshd[${i}]: Failed password for root from 192.0.2.${i % 250} port 22 ssh2\n`).join('')
  return { text, times }
}
const timeOf = (line: string): number | null => {
  const m = /^(\S+) /.exec(line)
  const at = m === null ? NaN : Date.parse(m[1] as string)
  return Number.isNaN(at) ? null : at
}

t.test('seekByTime: a large file is entered near the horizon, never after a line within it', async (t) => {
  const env = await makeEnv(t)
  const { text, times } = timedLog(40_000)
  await writeFile(env.log, text)
  const since = SEEK_END - 24 * HOUR
  const fh = await open(env.log, 'r')
  t.teardown(() => fh.close())
  const size = Buffer.byteLength(text)
  t.ok(size > SEEK_MIN_SIZE, `${size} bytes: large enough to seek`)
  const at = await seekByTime(fh, size, since, timeOf)
  const firstWithin = times.findIndex(x => x >= since)
  const offsetOf = (i: number) => Buffer.byteLength(text.split('\n').slice(0, i).join('\n')) + (i > 0 ? 1 : 0)
  t.ok(at <= offsetOf(firstWithin), 'no line within the horizon is skipped')
  t.ok(at > size * 0.8, `most of the file is skipped (${at} of ${size} bytes)`)
  t.equal(text[at - 1], '\n', 'at the start of a line')
  t.equal(await seekByTime(fh, size, since, () => null), 0, 'times it cannot read: from the start')
  t.equal(await seekByTime(fh, SEEK_MIN_SIZE - 1, since, timeOf), 0, 'a small file: from the start')
})

t.test('a first start with seek reads every line within the horizon; a restart resumes at its offset', async (t) => {
  const env = await makeEnv(t)
  const { text, times } = timedLog(40_000)
  await writeFile(env.log, text)
  const since = SEEK_END - 24 * HOUR
  const wanted = times.filter(x => x >= since).length
  const first = await run(t, env, { seek: { since, timeOf } })
  await waitFor(() => first.lines.some(l => l.text.includes(`sshd[39999]`)), { what: 'the last line', timeout: 10_000 })
  const within = first.lines.filter(l => (timeOf(l.text) ?? 0) >= since)
  t.equal(within.length, wanted, 'every line within the horizon')
  t.ok(first.lines.length < wanted + 2000, `few lines before it (${first.lines.length - wanted})`)
  await first.stop()
  await appendFile(env.log, `${new Date(SEEK_END).toISOString()} web1 sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2\n`)
  const again = await run(t, env, { seek: { since, timeOf } })
  await waitFor(() => again.lines.length >= 1, { what: 'the appended line' })
  t.equal(again.lines.length, 1, 'a restart does not seek: it resumes after the committed lines')
})
