// The ledger on a real LevelDB in a temp dir: idempotency, atomic projection
// rows, expiry, restart, replay = projection (property-based), time travel.
import fc from 'fast-check'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { Ledger, TICK_ADDRESSES } from '../../ledger/ledger.js'
import { Level } from 'level'
import { LedgerFormatError, LedgerLockedError, LedgerStore, seqKey } from '../../ledger/store/ledger-store.js'
import { bansAsOf, entriesFor, entriesFrom, replay, verify } from '../../ledger/store/log-reader.js'
import { entriesOf } from '../../proto/ledger-chunk.js'
import { decodeEntry } from '../../proto/wire.js'
import type { Decision, LedgerInput } from '../../ledger/rules/types.js'
import { DAY, HOUR, MIN, T0, failure, rulesContext, success } from '../helpers/rules.js'

const IP = '203.0.113.7'

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'banledger-ledger-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function openLedger(t: Test, dir: string, ctx = rulesContext()): Promise<Ledger> {
  const ledger = await Ledger.open({ dir, rules: ctx })
  t.teardown(() => ledger.close())
  return ledger
}

t.test('an event stored twice is stored once (idempotency index)', async t => {
  const dir = await tempDir(t)
  const ledger = await openLedger(t, dir)
  const f = failure(IP, T0, { id: 'a/1/100' })
  const [first] = await ledger.submit([f])
  const [again, inBatch] = await ledger.submit([f, { ...f }])
  t.match(first, { seq: 1, duplicate: false })
  t.match(again, { seq: 1, duplicate: true, events: [] })
  t.match(inBatch, { seq: 1, duplicate: true })
  t.equal(ledger.seq, 1)
  t.same(ledger.state('ssh', IP)?.failures, [T0], 'counted once')
})

t.test('given batches decided while the one before is being written, when an id comes again in the next batches, then it is a duplicate of its first entry', async t => {
  // One input per batch: batch N+1's ids are looked up before batch N is
  // written, so an id of N found in N+1 comes from memory, one found in
  // N+2 or later from the store.
  const dir = await tempDir(t)
  const ledger = await Ledger.open({ dir, rules: rulesContext(), maxBatch: 1 })
  t.teardown(() => ledger.close())
  const ids = [1, 2, 1, 3, 2, 1, 4, 4, 3, 5, 1]
  const results = await Promise.all(ids.map((n, i) => ledger.submit([failure(`203.0.113.${n}`, T0 + i, { id: `a/1/${n}` })])))
  const firstSeq = new Map<number, number>()
  results.forEach(([r], i) => {
    const n = ids[i] as number
    const seq = firstSeq.get(n)
    if (seq === undefined) {
      t.match(r, { duplicate: false }, `input ${i} (id ${n}) is new`)
      firstSeq.set(n, r?.seq ?? 0)
    } else {
      t.match(r, { seq, duplicate: true, events: [] }, `input ${i} (id ${n}) is a duplicate of seq ${seq}`)
    }
  })
  t.equal(ledger.seq, 5)
  t.same(await ledger.store.seqsOf([1, 2, 3, 4, 5].map(n => `a/1/${n}`)), [1, 2, 3, 4, 5].map(n => firstSeq.get(n)))
  t.same(ledger.state('ssh', '203.0.113.1')?.failures, [T0], 'counted once')
})

t.test('given ids of any text (non-ASCII, astral, lone surrogates), when the ledger keys them as bytes, then they are the keys text gave (as earlier versions stored them) and each is found again', async t => {
  // Earlier versions put `ids/<id>` as text (classic-level writes UTF-8, a
  // lone surrogate as U+FFFD); this one writes the bytes itself.
  const unit = fc.oneof(fc.constantFrom('a', ':', '/', 'é', '€', '😀', '\ud800', '\udc00', '\ud83d'), fc.string({ maxLength: 3 }))
  const ids = fc.uniqueArray(fc.array(unit, { minLength: 1, maxLength: 12 }).map(parts => parts.join('')), { minLength: 1, maxLength: 20 })
  await fc.assert(fc.asyncProperty(ids, async ids => {
    const dir = await mkdtemp(join(tmpdir(), 'banledger-ids-'))
    try {
      const db = new Level<string, string>(dir)
      await db.sublevel<string, string>('ids', {}).batch(ids.map((id, i) => ({ type: 'put' as const, key: id, value: String(i + 1) })))
      await db.close()
      const store = await LedgerStore.open(dir)
      try {
        // Lone surrogates that text keys wrote as the same U+FFFD share a
        // key: the last one put wins.
        const expected = ids.map(id => {
          const same = ids.map((other, i) => [other, i] as const).filter(([other]) => Buffer.from(other).equals(Buffer.from(id)))
          return (same.at(-1)?.[1] ?? 0) + 1
        })
        return JSON.stringify(await store.seqsOf(ids)) === JSON.stringify(expected)
      } finally {
        await store.close()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }), { numRuns: 40 })
  t.pass('every id found under the key text gave it')
})

t.test('maxretry bans, decisions are published after the synced write, bans survive restart', async t => {
  const dir = await tempDir(t)
  let ledger = await Ledger.open({ dir, rules: rulesContext() })
  const decisions: Decision[] = []
  ledger.onCommit((_entries, ds) => decisions.push(...ds))
  await ledger.submit([failure(IP, T0), failure(IP, T0 + MIN), failure(IP, T0 + 2 * MIN)])
  t.match(decisions, [{ type: 'ban', ip: IP, jail: 'ssh', seq: 3, reason: 'maxretry', until: T0 + 2 * MIN + 5 * DAY }])
  await ledger.close()
  ledger = await openLedger(t, dir)
  t.same(ledger.activeBans(T0 + HOUR).map(b => b.ip), [IP], 'R5: a clean stop lifts nothing')
  t.equal(ledger.seq, 3)
})

t.test('ticks append BanExpired when a ban ends, and forget stale state', async t => {
  const dir = await tempDir(t)
  const ledger = await openLedger(t, dir)
  await ledger.submit([failure(IP, T0), failure(IP, T0 + 1), failure(IP, T0 + 2)])
  t.equal(ledger.nextDueAt(), T0 + 2 + 5 * DAY)
  const none = await ledger.tick(T0 + DAY)
  t.same(none, { seq: 0, duplicate: false, events: [] }, 'a tick with nothing due is not stored')
  const r = await ledger.tick(T0 + 6 * DAY)
  t.match(r.events, [{ type: 'BanExpired', at: T0 + 2 + 5 * DAY }, { type: 'StateForgotten' }])
  t.equal(ledger.activeBans(T0 + 6 * DAY).length, 0)
  t.equal(ledger.addresses, 0, 'nothing tracked')
  t.equal(ledger.nextDueAt(), undefined)
})

t.test('given more addresses due at once than an entry holds, when a tick comes, then it appends several entries of at most TICK_ADDRESSES each', async t => {
  const dir = await tempDir(t)
  const ledger = await openLedger(t, dir)
  const n = 2 * TICK_ADDRESSES + 500
  const ips = Array.from({ length: n }, (_, i) => `198.51.${100 + (i >> 8)}.${i & 255}`)
  await ledger.submit(ips.flatMap(ip => [failure(ip, T0), failure(ip, T0 + 1), failure(ip, T0 + 2)]))
  t.equal(ledger.activeBans(T0 + HOUR).length, n, 'all banned, all to expire together')
  const before = ledger.seq
  const r = await ledger.tick(T0 + 6 * DAY)
  t.equal(ledger.seq, before + 3, 'three entries')
  t.equal(r.seq, ledger.seq, 'the result names the last one')
  t.equal(r.events.filter(e => e.type === 'BanExpired').length, n, 'the result holds every event')
  const entries = await entriesFrom(ledger.store, before + 1, 10)
  t.same(entries.map(e => new Set(e.events.map(x => x.ip)).size), [TICK_ADDRESSES, TICK_ADDRESSES, 500], 'at most TICK_ADDRESSES addresses an entry')
  t.ok(entries.every(e => e.cause.type === 'tick'), 'each caused by the tick')
  t.equal(ledger.activeBans(T0 + 6 * DAY).length, 0)
  t.equal(ledger.addresses, 0, 'expired and forgotten')
  t.same((await verify(ledger.store)).mismatches, [], 'replay equals the projection')
})

t.test('a second process cannot open the ledger: clear error', async t => {
  const dir = await tempDir(t)
  await openLedger(t, dir)
  await t.rejects(LedgerStore.open(dir), LedgerLockedError)
})

t.test('replay equals the stored projection; bans as of a past time; explain', async t => {
  const dir = await tempDir(t)
  const ledger = await openLedger(t, dir)
  await ledger.submit([failure(IP, T0), failure(IP, T0 + 1), failure(IP, T0 + 2)])
  await ledger.submit([failure('198.51.100.9', T0 + HOUR), success('198.51.100.9', T0 + 2 * HOUR)])
  await ledger.tick(T0 + 6 * DAY)
  const report = await verify(ledger.store)
  t.same(report.mismatches, [])
  t.equal(report.entries, 6)
  t.same((await bansAsOf(ledger.store, T0 + DAY)).map(b => b.ip), [IP], 'banned a day later')
  t.same(await bansAsOf(ledger.store, T0 + 1), [], 'not yet banned after two failures')
  t.same(await bansAsOf(ledger.store, T0 + 6 * DAY), [], 'expired')
  const history = await entriesFor(ledger.store, IP)
  t.same(history.map(e => e.seq), [1, 2, 3, 6])
})

// Property: for any sequence of inputs, replaying the log reproduces the
// stored projection exactly (DESIGN invariant 4).
const ips = ['203.0.113.1', '203.0.113.2', '2001:db8::1', '127.0.0.1']
const inputArb = fc.oneof(
  fc.record({
    kind: fc.constantFrom('failure', 'success', 'failure', 'failure'),
    ip: fc.constantFrom(...ips),
    jail: fc.constantFrom('ssh', 'web'),
    dt: fc.integer({ min: 0, max: 30 * HOUR }),
  }).map(r => ({ ...r, type: 'log' as const })),
  fc.record({ action: fc.constantFrom('ban', 'unban', 'pardon'), ip: fc.constantFrom(...ips), dt: fc.integer({ min: 0, max: DAY }) })
    .map(r => ({ ...r, type: 'operator' as const })),
  fc.record({ dt: fc.integer({ min: 0, max: 3 * DAY }) }).map(r => ({ ...r, type: 'tick' as const })),
)

t.test('property: replay reproduces the stored projections exactly', async t => {
  const root = await tempDir(t)
  let run = 0
  await fc.assert(fc.asyncProperty(fc.array(inputArb, { maxLength: 60 }), fc.integer({ min: 1, max: 7 }), fc.boolean(), async (steps, chunk, concurrent) => {
    const dir = join(root, String(run++))
    const ctx = rulesContext({ ssh: { graceMaxFailures: 2, increment: { factor: 2, max: 20 * DAY } }, web: { maxretry: 2, successLiftsBan: false } })
    const ledger = await Ledger.open({ dir, rules: ctx })
    try {
      let now = T0
      const inputs: LedgerInput[] = steps.map((s, i) => {
        now += s.dt
        if (s.type === 'tick') return { type: 'tick', at: now }
        if (s.type === 'operator') return { type: 'operator', action: s.action as 'ban', id: `op${i}`, jail: 'ssh', ip: s.ip, at: now, actor: 't', reason: 'p' }
        return { type: 'log', kind: s.kind as 'failure', id: `e${i}`, jail: s.jail, ip: s.ip, at: now, host: 'h', source: 's' }
      })
      // Submit in chunks (several group commits), some ids twice; in the
      // concurrent runs every chunk is in flight at once, so batches are
      // decided while the one before them is still being written.
      const submits: Promise<unknown>[] = []
      for (let i = 0; i < inputs.length; i += chunk) {
        const part = inputs.slice(i, i + chunk)
        const submitted = ledger.submit(i % 2 === 0 ? part : [...part, ...part.slice(0, 1)])
        if (concurrent) submits.push(submitted)
        else await submitted
      }
      await Promise.all(submits)
      const report = await verify(ledger.store)
      if (report.mismatches.length > 0) throw new Error(report.mismatches.join('; '))
      const replayed = await replay(ledger.store)
      if (replayed.states.size !== ledger.addresses) throw new Error('replayed address count differs from memory')
      for (const [key, s] of replayed.states) {
        const [jail = '', ip = ''] = key.split('/')
        if (JSON.stringify(ledger.state(jail, ip)) !== JSON.stringify(s)) throw new Error(`memory differs for ${key}`)
      }
      const inForce = [...replayed.states].filter(([, s]) => s.ban !== null && s.ban.until > now).map(([key]) => key).sort()
      const active = ledger.activeBans(now).map(b => `${b.jail}/${b.ip}`).sort()
      if (JSON.stringify(active) !== JSON.stringify(inForce)) throw new Error(`active bans ${active.join()} differ from replay's ${inForce.join()}`)
      // Every address is in the due index: 100 days on, each ban has
      // expired and each state is forgotten (bans and their memory last 20).
      await ledger.tick(now + 100 * DAY)
      if (ledger.addresses !== 0) throw new Error(`${ledger.addresses} addresses left after every due time`)
    } finally {
      await ledger.close()
      await rm(dir, { recursive: true, force: true })
    }
  }), { numRuns: 60 })
  t.pass('60 random histories replayed equal')
})

t.test('given one batch of 2,500 entries, when read back from any sequence, then each entry comes once, in order, from its chunk', async t => {
  const dir = await tempDir(t)
  const ledger = await openLedger(t, dir)
  // Distinct addresses, one failure each: 2,500 entries in one batch.
  const inputs = Array.from({ length: 2500 }, (_, i) => failure(`2001:db8::${i.toString(16)}`, T0 + i))
  await ledger.submit(inputs)
  t.equal(ledger.seq, 2500)
  const values: Uint8Array[] = []
  for await (const vs of ledger.store.logValues()) values.push(...vs)
  t.equal(values.length, 3, 'stored as 3 chunks of at most 1,000 entries')
  const seqsFrom = async (from: number, size: number): Promise<number[][]> => {
    const out: number[][] = []
    for await (const es of ledger.store.entries(from, size)) out.push(es.map(e => decodeEntry(e).seq))
    return out
  }
  t.same((await seqsFrom(1, 5000)).flat(), Array.from({ length: 2500 }, (_, i) => i + 1), 'every entry once, in order')
  const mid = await seqsFrom(1500, 400)
  t.same(mid.map(a => a.length), [400, 400, 201], 'arrays of at most the size asked for')
  t.equal(mid[0]?.[0], 1500, 'starts in the middle of the chunk that holds it')
  t.same((await entriesFrom(ledger.store, 999, 3)).map(e => e.seq), [999, 1000, 1001], 'across a chunk boundary')
  t.same(await entriesFrom(ledger.store, 2501, 3), [], 'nothing past the end')
  t.same((await verify(ledger.store)).mismatches, [])
})

t.test('given a format-1 ledger (one entry per value), when opened, then it is upgraded to format 2 and reads as before', async t => {
  const dir = await tempDir(t)
  // The same ledger twice: written by this version, then rewritten in format 1.
  const source = join(dir, 'source')
  const ledger = await Ledger.open({ dir: source, rules: rulesContext() })
  await ledger.submit([failure(IP, T0), failure(IP, T0 + 1), failure(IP, T0 + 2), failure('198.51.100.9', T0 + 3)])
  const entries: Uint8Array[] = []
  for await (const es of ledger.store.entries()) entries.push(...es.map(e => Uint8Array.from(e)))
  const rows: [string, Uint8Array][] = []
  for await (const rs of ledger.store.rawStates()) rows.push(...rs)
  await ledger.close()

  const old = join(dir, 'format1')
  const db = new Level<string, Uint8Array>(old, { valueEncoding: 'view' })
  const opts = { valueEncoding: 'view' } as const
  const latin1 = (s: string) => new TextEncoder().encode(s)
  await db.batch([
    ...entries.map((bytes, i) => ({ type: 'put' as const, sublevel: db.sublevel<string, Uint8Array>('log', opts), key: seqKey(i + 1), value: bytes })),
    ...rows.map(([key, value]) => ({ type: 'put' as const, sublevel: db.sublevel<string, Uint8Array>('state', opts), key, value })),
    { type: 'put' as const, sublevel: db.sublevel<string, Uint8Array>('meta', opts), key: 'seq', value: latin1(String(entries.length)) },
    { type: 'put' as const, sublevel: db.sublevel<string, Uint8Array>('meta', opts), key: 'format', value: latin1('1') },
  ])
  await db.close()

  const upgraded = await openLedger(t, old)
  t.same((await verify(upgraded.store)).mismatches, [], 'replay of the format-1 log equals its projection')
  t.same((await entriesFrom(upgraded.store, 2, 2)).map(e => e.seq), [2, 3])
  t.same((await entriesFor(upgraded.store, IP)).map(e => e.seq), [1, 2, 3])
  await upgraded.submit([failure('198.51.100.9', T0 + 4)])
  t.same((await entriesFrom(upgraded.store, 4, 5)).map(e => e.seq), [4, 5], 'old values and new chunks read in one order')
  t.same((await verify(upgraded.store)).mismatches, [])
  await upgraded.close()
  const meta = new Level<string, string>(old)
  t.equal(await meta.sublevel<string, string>('meta', {}).get('format'), '2', 'marked format 2')
  await meta.sublevel<string, string>('meta', {}).put('format', '3')
  await meta.close()
  await t.rejects(LedgerStore.open(old), LedgerFormatError, 'a format from a later version is refused')
})

t.test('given a ledger whose blocks LevelDB stored compressed (earlier versions), when opened, then it reads, verifies and appends as before', async t => {
  const source = '/var/log/a-rather-long-path/auth.log'
  const inputs = Array.from({ length: 300 }, (_, i) => failure(`198.51.100.${i % 200}`, T0 + i * MIN, { source }))
  /** A ledger of `inputs` whose tables LevelDB wrote with or without
   *  compression (this version leaves it in LevelDB's write-ahead log: the
   *  next open writes the tables), and how often `source` is in them. */
  const stored = async (compression: boolean): Promise<{ dir: string; occurrences: number }> => {
    const dir = await tempDir(t)
    const ledger = await Ledger.open({ dir, rules: rulesContext() })
    await ledger.submit(inputs)
    await ledger.close()
    const raw = new Level(dir, { compression }) as unknown as Level & { compactRange(start: string, end: string): Promise<void> }
    await raw.open()
    await raw.compactRange('\x00', '\xff')
    await raw.close()
    let occurrences = 0
    for (const f of (await readdir(dir)).filter(f => f.endsWith('.ldb'))) occurrences += (await readFile(join(dir, f))).toString('latin1').split(source).length - 1
    return { dir, occurrences }
  }
  t.ok((await stored(false)).occurrences >= inputs.length, "uncompressed, each entry's text is on disk as it is")
  const { dir, occurrences } = await stored(true)
  t.ok(occurrences < inputs.length / 10, `compressed, the repeated text is not (${occurrences} times)`)

  const reopened = await openLedger(t, dir)
  const report = await verify(reopened.store)
  t.same(report.mismatches, [], 'replay of the compressed log equals its projection')
  t.equal(report.entries, inputs.length)
  t.equal(report.addresses, 200)
  await reopened.submit([failure('198.51.100.250', T0 + DAY, { source })])
  t.same((await verify(reopened.store)).mismatches, [], 'new blocks next to the old ones')
  t.equal(reopened.seq, inputs.length + 1)
})

t.test('given a quiet ledger appending one entry at a time, when 70 are appended, then its small chunks are merged 32 into one and every entry reads back once', async t => {
  const dir = await tempDir(t)
  const ledger = await openLedger(t, dir)
  for (let i = 0; i < 70; i++) await ledger.submit([failure(`2001:db8::${i.toString(16)}`, T0 + i)])
  const values: Uint8Array[] = []
  for await (const vs of ledger.store.logValues()) values.push(...vs)
  t.same(values.map(v => entriesOf(v).length), [32, 32, 1, 1, 1, 1, 1, 1], 'two merged chunks, then the tail')
  for (const from of [1, 2, 32, 33, 64, 65, 70]) {
    t.same((await entriesFrom(ledger.store, from, 100)).map(e => e.seq), Array.from({ length: 71 - from }, (_, i) => from + i), `from ${from}`)
  }
  t.same((await verify(ledger.store)).mismatches, [])
})
