import t from 'tap'
import type { Test } from 'tap'
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { OffsetStore } from '../../services/watcher/offset-store.js'
import type { OffsetStoreOptions } from '../../services/watcher/offset-store.js'
import { waitFor } from '../helpers/wait-for.js'

const DAY = 24 * 60 * 60 * 1000

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'banledger-offsets-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function openStore(t: Test, file: string, opts: OffsetStoreOptions = {}): OffsetStore {
  const store = new OffsetStore(file, opts)
  t.teardown(() => store.close())
  return store
}

t.test('set, flush, and a new store reads the entries back', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'watcher', 'offsets.json') // the folder is created on write
  const a = openStore(t, file, { flushInterval: 60_000, now: () => 1_000 })
  t.equal(await a.get('1:2:aaaa'), undefined, 'unknown identity')
  a.set('1:2:aaaa', '/var/log/auth.log', 120)
  a.set('1:3:bbbb', '/var/log/auth.log', 7)
  t.equal(await a.get('1:2:aaaa'), 120)
  await a.close()

  t.same(JSON.parse(await readFile(file, 'utf8')), {
    version: 1,
    files: {
      '1:2:aaaa': { path: '/var/log/auth.log', offset: 120, updatedAt: 1_000 },
      '1:3:bbbb': { path: '/var/log/auth.log', offset: 7, updatedAt: 1_000 },
    },
  })
  t.same(await readdir(join(dir, 'watcher')), ['offsets.json'], 'no temp file left behind')

  const b = openStore(t, file)
  t.equal(await b.get('1:2:aaaa'), 120)
  t.same([...(await b.entriesFor('/var/log/auth.log')).keys()].sort(), ['1:2:aaaa', '1:3:bbbb'])
  t.equal((await b.entriesFor('/var/log/other.log')).size, 0)
})

t.test('writes are batched: nothing is written before the interval, then it is', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'offsets.json')
  const slow = openStore(t, file, { flushInterval: 60 * 60 * 1000 })
  slow.set('x', '/a', 1)
  slow.set('x', '/a', 2)
  await slow.load()
  await t.rejects(readFile(file), { code: 'ENOENT' }, 'set alone does not write')
  await slow.flush()
  t.equal(JSON.parse(await readFile(file, 'utf8')).files.x.offset, 2)

  const file2 = join(dir, 'offsets2.json')
  const fast = openStore(t, file2, { flushInterval: 20 })
  fast.set('y', '/b', 5)
  await waitFor(async () => JSON.parse(await readFile(file2, 'utf8')).files.y.offset === 5, { what: 'the batched write' })
})

t.test('a corrupt file is reported and treated as empty, then repaired', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'offsets.json')
  for (const bad of ['{not json', '[]', '{"version":2,"files":{}}', '{"version":1,"files":{"a":{"path":"/x","offset":-1,"updatedAt":0}}}']) {
    await writeFile(file, bad)
    const errors: Error[] = []
    const store = openStore(t, file, { onError: (e) => errors.push(e) })
    t.equal(await store.get('a'), undefined, `empty after ${bad}`)
    t.match(errors, [{ name: 'OffsetStoreError', code: 'BANLEDGER_OFFSETS_CORRUPT' }], `one error for ${bad}`)
    store.set('a', '/x', 3)
    await store.close()
    t.equal(JSON.parse(await readFile(file, 'utf8')).files.a.offset, 3, 'rewritten whole')
  }
})

t.test('a "__proto__" identity is an ordinary key', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'offsets.json')
  await writeFile(file, '{"version":1,"files":{"__proto__":{"path":"/x","offset":4,"updatedAt":0}}}')
  const store = openStore(t, file, { now: () => 0 })
  t.equal(await store.get('__proto__'), 4)
  t.equal(await store.get('toString'), undefined)
})

t.test('entries not updated for 7 days are pruned on write', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'offsets.json')
  let now = 0
  const a = openStore(t, file, { now: () => now })
  a.set('old', '/a', 1)
  now = 3 * DAY
  a.set('recent', '/a', 2)
  now = 8 * DAY
  a.set('fresh', '/a', 3)
  await a.flush()
  t.same(Object.keys(JSON.parse(await readFile(file, 'utf8')).files).sort(), ['fresh', 'recent'])
  t.equal(await a.get('old'), undefined)
})

t.test('entries set before the file was read win over the file', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'offsets.json')
  await writeFile(file, JSON.stringify({ version: 1, files: { a: { path: '/a', offset: 1, updatedAt: 0 }, b: { path: '/b', offset: 9, updatedAt: 0 } } }))
  const store = openStore(t, file, { now: () => 0 })
  store.set('a', '/a', 5)
  t.equal(await store.get('a'), 5)
  t.equal(await store.get('b'), 9)
})

t.test('close is idempotent; set after close is a programming error', async (t) => {
  const dir = await tempDir(t)
  const store = openStore(t, join(dir, 'offsets.json'))
  store.set('a', '/a', 1)
  await Promise.all([store.close(), store.close()])
  t.throws(() => store.set('a', '/a', 2), TypeError)
  t.throws(() => new OffsetStore(join(dir, 'x.json')).set('a', '/a', -1), TypeError)
})

t.test('a failed background write is reported and retried by the next flush', async (t) => {
  const dir = await tempDir(t)
  const blocker = join(dir, 'blocker')
  await writeFile(blocker, '') // a file where the folder should be: mkdir fails
  const file = join(blocker, 'offsets.json')
  const errors: Error[] = []
  const store = new OffsetStore(file, { flushInterval: 10, onError: (e) => errors.push(e) })
  store.set('a', '/a', 1)
  const failed = await waitFor(() => errors.find((e) => 'code' in e && e.code === 'BANLEDGER_OFFSETS_WRITE_FAILED'), { what: 'the write error' })
  t.match(failed, { name: 'OffsetStoreError', cause: Error })
  await rm(blocker)
  await mkdir(blocker)
  await store.close()
  t.equal(JSON.parse(await readFile(file, 'utf8')).files.a.offset, 1, 'written once possible')
})

t.test('journal cursors: stored beside file offsets, read back, forgotten on request', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'offsets.json')
  const a = openStore(t, file, { flushInterval: 60_000, now: () => 5 })
  a.set('1:2:aaaa', '/var/log/auth.log', 9)
  a.setCursor('journal:_COMM=sshd', 's=1;i=2;b=3;m=4;t=5;x=6')
  a.setCursor('journal:_COMM=x', 's=1;i=3')
  t.equal(await a.getCursor('journal:_COMM=sshd'), 's=1;i=2;b=3;m=4;t=5;x=6')
  t.equal(await a.getCursor('1:2:aaaa'), undefined, 'a file entry has no cursor')
  a.delete('journal:_COMM=x')
  await a.close()
  t.same(JSON.parse(await readFile(file, 'utf8')).files, {
    '1:2:aaaa': { path: '/var/log/auth.log', offset: 9, updatedAt: 5 },
    'journal:_COMM=sshd': { path: 'journal:_COMM=sshd', offset: 0, updatedAt: 5, cursor: 's=1;i=2;b=3;m=4;t=5;x=6' },
  })
  const b = openStore(t, file)
  t.equal(await b.getCursor('journal:_COMM=sshd'), 's=1;i=2;b=3;m=4;t=5;x=6')
  t.equal(await b.getCursor('journal:_COMM=x'), undefined)
  t.throws(() => b.setCursor('k', ''), TypeError)

  const errors: Error[] = []
  await writeFile(file, '{"version":1,"files":{"journal:x":{"path":"journal:x","offset":0,"updatedAt":0,"cursor":7}}}')
  await new OffsetStore(file, { onError: (e) => errors.push(e) }).load()
  t.match(errors, [{ code: 'BANLEDGER_OFFSETS_CORRUPT' }], 'a cursor that is not a string makes the file corrupt')
})
