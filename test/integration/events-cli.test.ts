// `banledger events` (the ledger's events and decisions, embedded and on
// NATS, once and --follow), the third-party example ops/examples/count-bans,
// and `banledger replay --from-bus` (a new ledger seeded from the ledger
// stream equals the original), through the real binary and nats-server.
import { spawn, type ChildProcess } from 'node:child_process'
import { access } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { connect, type JetStreamManager } from 'nats'
import pino from 'pino'
import t, { type Test } from 'tap'
import { Ledger } from '../../ledger/ledger.js'
import { decisionsOf } from '../../ledger/rules/decisions.js'
import type { LedgerEntry, LedgerInput } from '../../ledger/rules/types.js'
import { LedgerStore } from '../../ledger/store/ledger-store.js'
import { entriesFrom } from '../../ledger/store/log-reader.js'
import { loadConfig } from '../../ops/config/load-config.js'
import { NatsBus } from '../../services/bus/nats/nats-bus.js'
import { ledgerFeed } from '../../services/run/ledger-feed.js'
import { rulesFromConfig } from '../../services/run/rules-from-config.js'
import { encodeChunk } from '../../proto/ledger-chunk.js'
import { encodeEntry } from '../../proto/wire.js'
import { NATS_TIMEOUTS, natsBus, natsConfig, publishedSeq } from '../helpers/bus-kit.js'
import { BIN, bansJson, cli, startService, tempDir, writeConfig } from '../helpers/cli.js'
import { connectAs, requireNatsServer, startNats, startSecuredNats } from '../helpers/nats-server.js'
import { DAY, failure, HOUR, MIN, success } from '../helpers/rules.js'
import { waitFor } from '../helpers/wait-for.js'

type Row = { seq: number; id: string; at: string; type: string; jail: string; ip: string } & Record<string, unknown>

const EXAMPLE = new URL('../../dist/ops/examples/count-bans.js', import.meta.url).pathname
const SECOND_JAIL = `  web:
    filter: sshd
    logpath: [/nonexistent/web.log]
    ports: [80]
`

const rows = (stdout: string): Row[] => stdout.split('\n').filter(Boolean).map(l => JSON.parse(l) as Row)

/** A child process whose output is collected; killed in teardown. */
function run(t: Test, args: readonly string[]): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  t.teardown(() => { child.kill('SIGKILL') })
  return { child, out: () => out, err: () => err, exited }
}

let ops = 0
const operator = (action: 'ban' | 'unban' | 'pardon', jail: string, ip: string, at: number): LedgerInput =>
  ({ type: 'operator', action, id: `op-${++ops}`, jail, ip, at, actor: 'test', reason: 'by hand' })

/** A few hundred inputs over six days up to `now`, monotone in time: bans
 *  in two jails that expire (a tick), repeat bans in force, a success that
 *  lifts one, operator commands (one of no effect) and an import. */
function history(now: number): LedgerInput[] {
  const inputs: LedgerInput[] = []
  const base = now - 6 * DAY
  for (let i = 0; i < 100; i++) {
    for (let k = 0; k < (i < 60 ? 3 : 1); k++) inputs.push(failure(`192.0.2.${i}`, base + i * 1000 + k))
  }
  for (let i = 0; i < 20; i++) {
    for (let k = 0; k < 3; k++) inputs.push(failure(`198.51.100.${i}`, base + 200_000 + i * 1000 + k, { jail: 'web' }))
  }
  inputs.push({ type: 'tick', at: now - DAY + 10 * MIN })
  const recent = now - HOUR
  for (let i = 0; i < 30; i++) {
    for (let k = 0; k < 3; k++) inputs.push(failure(`192.0.2.${i}`, recent + i * 1000 + k))
  }
  inputs.push(success('192.0.2.5', recent + 60_000))
  inputs.push(operator('ban', 'ssh', '203.0.113.1', recent + 61_000))
  inputs.push(operator('unban', 'ssh', '192.0.2.6', recent + 62_000))
  inputs.push(operator('pardon', 'ssh', '192.0.2.7', recent + 63_000))
  inputs.push(operator('unban', 'ssh', '203.0.113.99', recent + 64_000))
  inputs.push({ type: 'import', id: 'denyhosts/ssh/203.0.113.50/x', jail: 'ssh', ip: '203.0.113.50', bannedAt: recent, at: recent + 65_000, source: 'test:1' })
  return inputs
}

/** Every entry (entriesFrom may give fewer than asked: read on). */
async function allEntries(store: LedgerStore): Promise<LedgerEntry[]> {
  const out: LedgerEntry[] = []
  for (let page = await entriesFrom(store, 1, 1000); page.length > 0; page = await entriesFrom(store, out.length + 1, 1000)) out.push(...page)
  return out
}

/** The embedded ledger, read directly and through the running service. */
t.test('events on the embedded ledger', async t => {
  const dir = await tempDir(t)
  const { config } = await writeConfig(dir, SECOND_JAIL)
  const now = Date.now()
  const ledger = await Ledger.open({ dir: join(dir, 'data', 'ledger'), rules: rulesFromConfig(await loadConfig(config)) })
  await ledger.submit(history(now))
  const entries = await allEntries(ledger.store)
  await ledger.close()
  const events = entries.flatMap(e => e.events)
  const decisions = entries.flatMap(decisionsOf)

  t.test('--json: every event, each decision after its event', async t => {
    const r = await cli(['events', '--json', '--config', config])
    t.equal(r.code, 0, r.stderr)
    const got = rows(r.stdout)
    t.equal(got.length, events.length + decisions.length, 'one line per event and per decision')
    t.same(got.filter(g => g.type !== 'ban' && g.type !== 'unban').map(g => g.type), events.map(e => e.type), 'the events, in ledger order')
    const firstBan = entries.find(e => e.events.some(ev => ev.type === 'BanIssued')) as LedgerEntry
    const i = firstBan.events.findIndex(ev => ev.type === 'BanIssued')
    const ev = firstBan.events[i] as Extract<LedgerEntry['events'][number], { type: 'BanIssued' }>
    const at = new Date(ev.at).toISOString()
    const until = new Date(ev.until).toISOString()
    const k = got.findIndex(g => g.type === 'BanIssued')
    t.same(got[k], { seq: firstBan.seq, id: `${firstBan.seq}.${i}`, at, type: 'BanIssued', jail: 'ssh', ip: ev.ip, until, reason: 'maxretry', repeat: 0, failures: 3 })
    t.same(got[k + 1], { seq: firstBan.seq, id: `${firstBan.seq}.${i}`, at, type: 'ban', jail: 'ssh', ip: ev.ip, until, reason: 'maxretry', failures: 3 }, 'its decision next')
    t.match(got.find(g => g.type === 'FailureRecorded'), { outcome: 'counted', host: 'a', windowStart: /Z$/ })
    t.match(got.find(g => g.type === 'unban' && g.reason === 'expired'), { type: 'unban', jail: 'ssh' })
    t.match(got.find(g => g.type === 'NoEffect'), { ip: '203.0.113.99', why: /./ })
    t.ok(got.some(g => g.type === 'GraceOpened' && typeof g.until === 'string'), 'pardon opened a grace window')
  })

  t.test('--type (case-insensitive, groups), --since SEQ and TIME, text lines', async t => {
    const d = await cli(['events', '--json', '--type', 'BAN,unban', '--config', config])
    t.equal(d.code, 0, d.stderr)
    t.same(rows(d.stdout).map(g => `${g.id} ${g.type}`), decisions.map(x => `${x.id} ${x.type}`), 'the decisions alone')
    const g = await cli(['events', '--json', '--type', 'decisions', '--type', 'banexpired', '--config', config])
    t.equal(rows(g.stdout).length, decisions.length + events.filter(e => e.type === 'BanExpired').length)

    const s = await cli(['events', '--json', '--since', '200', '--config', config])
    t.equal(rows(s.stdout)[0]?.seq, 200, 'from sequence 200')
    t.equal(rows(s.stdout).at(-1)?.seq, entries.at(-1)?.seq)
    const time = now - DAY
    const first = entries.find(e => e.at >= time) as LedgerEntry
    const byTime = await cli(['events', '--json', '--since', new Date(time).toISOString(), '--config', config])
    t.equal(rows(byTime.stdout)[0]?.seq, first.seq, 'from the first entry at or after the time')
    const epoch = await cli(['events', '--json', '--since', `@${Math.floor(now / 1000) + 3600}`, '--config', config])
    t.same([epoch.code, epoch.stdout], [0, ''], 'a time after the last entry: nothing')

    const text = await cli(['events', '--type', 'BanIssued', '--since', String(first.seq), '--config', config])
    t.match(text.stdout.split('\n')[0], /^\d+\.\d+ +\d{4}-\d\d-\d\dT[\d:.]+Z BanIssued +ssh +192\.0\.2\.\d+ +until=\S+Z reason=maxretry repeat=1 failures=3$/)
    const noEffect = await cli(['events', '--type', 'noeffect', '--config', config])
    t.match(noEffect.stdout, /NoEffect +ssh +203\.0\.113\.99 +why="[^"]+ [^"]+"$/m, 'text with spaces is quoted')

    for (const [args, message] of [
      [['--type', 'bans'], /--type "bans": expected FailureRecorded/],
      [['--since', 'yesterday'], /--since: expected an ISO-8601 time/],
      [['extra'], /unexpected argument "extra"/],
    ] as const) {
      const r = await cli(['events', ...args, '--config', config])
      t.equal(r.code, 2, args.join(' '))
      t.match(r.stderr, message)
    }
    const help = await cli(['events', '--help'])
    t.match(help.stdout, /--follow[\s\S]*JSON: every object has seq[\s\S]*Exit status/)
  })

  t.test('--follow without the service leaves the ledger free, and stops on SIGINT', async t => {
    const next = (entries.at(-1) as LedgerEntry).seq + 1
    // From the last entry: once it is printed, events has read the ledger.
    const f = run(t, [BIN, 'events', '--follow', '--json', '--since', String(next - 1), '--config', config])
    await waitFor(() => rows(f.out()).length > 0, { what: 'the first read of --follow', timeout: 10_000 })
    const ban = await cli(['ban', '203.0.113.200', '--jail', 'ssh', '--config', config])
    t.equal(ban.code, 0, `a command takes the ledger while events follows it: ${ban.stderr}`)
    const fresh = (): Row[] => rows(f.out()).filter(r => r.seq >= next)
    await waitFor(() => fresh().length >= 2, { what: 'the new ban', timeout: 10_000 })
    t.match(fresh(), [{ seq: next, type: 'BanIssued', ip: '203.0.113.200', reason: 'operator' }, { seq: next, type: 'ban' }])
    f.child.kill('SIGINT')
    t.equal(await f.exited, 0, `exit status 0 on SIGINT ${f.err()}`)
  })

  t.test('through the running service (the control socket), once and --follow', async t => {
    const svc = await startService(t, config)
    const r = await cli(['events', '--json', '--type', 'events', '--config', config])
    t.equal(r.code, 0, r.stderr)
    t.ok(rows(r.stdout).length >= events.length + 1, 'every entry, through the service')
    const last = rows(r.stdout).at(-1)?.seq ?? 0
    const f = run(t, [BIN, 'events', '--follow', '--json', '--type', 'decisions', '--config', config])
    // Nothing tells when it has started: unban and ban again until it prints.
    let banned = true
    await waitFor(async () => {
      const r = await cli([banned ? 'unban' : 'ban', '203.0.113.200', '--jail', 'ssh', '--config', config])
      if (r.code !== 0) throw new Error(r.stderr)
      banned = !banned
      return rows(f.out()).length >= 1
    }, { what: 'a decision through --follow', timeout: 20_000 })
    t.match(rows(f.out())[0], { ip: '203.0.113.200', reason: 'operator' })
    t.ok((rows(f.out())[0]?.seq ?? 0) > last, 'only what came after it started (--follow without --since)')
    f.child.kill('SIGTERM')
    t.equal(await f.exited, 0, 'exit status 0 on SIGTERM')
    svc.child.kill('SIGTERM')
    await svc.exited
  })
})

t.test('on NATS: events, count-bans and replay --from-bus', async t => {
  if (!(await requireNatsServer(t))) return
  const server = await startNats(t)
  const bus = `bus: { nats: { servers: [${server.url}] } }\n`
  // The original ledger (A), read by the embedded path; N: the same fleet
  // through NATS, with a data dir of its own for the seeded ledger.
  const a = await writeConfig(await tempDir(t), SECOND_JAIL)
  const n = await writeConfig(await tempDir(t), SECOND_JAIL + bus)
  const now = Date.now()
  const ledger = await Ledger.open({ dir: join(dirname(a.config), 'data', 'ledger'), rules: rulesFromConfig(await loadConfig(a.config)) })
  let open = true
  t.teardown(() => (open ? ledger.close() : undefined))
  // --follow before any ledger has published: it waits for the stream, then
  // prints it from its start.
  const early = run(t, [BIN, 'events', '--follow', '--json', '--config', n.config])
  await waitFor(() => early.err().includes('waiting for the stream BANLEDGER_LEDGER'), { what: 'events --follow waiting for the stream', timeout: 10_000 })
  const publisher = await (await natsBus(t, server, { host: 'core' })).publishLedger(ledgerFeed(ledger))
  await ledger.submit(history(now))
  const nc = await connect({ servers: server.url })
  t.teardown(() => nc.close())
  const jsm: JetStreamManager = await nc.jetstreamManager()
  const published = async () => await publishedSeq(jsm) === ledger.seq
  await waitFor(published, { what: 'every entry in BANLEDGER_LEDGER', timeout: 20_000 })
  await waitFor(() => rows(early.out()).at(-1)?.seq === ledger.seq, { what: 'the history through the early --follow', timeout: 10_000 })
  t.equal(rows(early.out())[0]?.seq, 1, 'the early --follow printed the stream from its start')
  early.child.kill('SIGINT')
  t.equal(await early.exited, 0, `exit status 0 on SIGINT ${early.err()}`)

  // Follow on NATS from the next entry, then commit three more failures.
  const next = ledger.seq + 1
  // It reads from `next` on: entries committed before it subscribes count too.
  const f = run(t, [BIN, 'events', '--follow', '--json', '--since', String(next), '--type', 'BanIssued,ban', '--config', n.config])
  await ledger.submit([0, 1, 2].map(k => failure('203.0.113.77', now - 5 * MIN + k, { jail: 'web' })))
  await waitFor(() => rows(f.out()).length >= 2, { what: 'the ban through --follow on NATS', timeout: 10_000 })
  t.match(rows(f.out()), [{ seq: next + 2, type: 'BanIssued', jail: 'web', ip: '203.0.113.77' }, { seq: next + 2, type: 'ban' }])
  f.child.kill('SIGINT')
  t.equal(await f.exited, 0, `exit status 0 on SIGINT ${f.err()}`)
  await waitFor(published, { what: 'the last entries in BANLEDGER_LEDGER', timeout: 10_000 })

  const entries = await allEntries(ledger.store)
  const bansPerJail = new Map<string, number>()
  for (const d of entries.flatMap(decisionsOf)) if (d.type === 'ban') bansPerJail.set(d.jail, (bansPerJail.get(d.jail) ?? 0) + 1)

  t.test('count-bans (the example subscriber) counts the ban decisions per jail', async t => {
    const c = run(t, [EXAMPLE, server.url])
    const want = `ssh=${bansPerJail.get('ssh')} web=${bansPerJail.get('web')}`
    await waitFor(() => c.out().trimEnd().endsWith(want), { what: `count-bans to reach ${want}`, timeout: 15_000 })
    const lines = c.out().trim().split('\n')
    t.equal(lines.length, (bansPerJail.get('ssh') ?? 0) + (bansPerJail.get('web') ?? 0), 'a line per change')
    t.match(lines[0], /^after decision \d+\.\d+: ssh=1$/)
    c.child.kill('SIGINT')
    t.equal(await c.exited, 0, c.err())

    // From a later decision (stream sequence = place among every decision),
    // with the URL in NATS_URL.
    const all = entries.flatMap(decisionsOf)
    const start = all.length - 8
    const later = all.slice(start - 1).filter(d => d.type === 'ban')
    const count = (jail: string) => later.filter(d => d.jail === jail).length
    const tail = [['ssh', count('ssh')], ['web', count('web')]].filter(([, k]) => k !== 0)
    t.ok(tail.length > 0)
    const l = spawn(process.execPath, [EXAMPLE, String(start)], { env: { ...process.env, NATS_URL: server.url }, stdio: ['ignore', 'pipe', 'inherit'] })
    t.teardown(() => { l.kill('SIGKILL') })
    let out = ''
    l.stdout.on('data', (d: Buffer) => { out += d.toString() })
    await waitFor(() => out.split('\n').filter(Boolean).length === later.length, { what: 'count-bans from a later sequence', timeout: 15_000 })
    t.equal(out.trim().split('\n').at(-1)?.replace(/^.*: /, '').split(' ').sort().join(' '),
      tail.map(([jail, k]) => `${jail}=${k}`).sort().join(' '), 'counts only what follows the start')
    l.kill('SIGTERM')
  })

  // What the ledger holds is now final: stop publishing and close it.
  await publisher.unsubscribe()
  await ledger.close()
  open = false

  t.test('events on NATS prints what it prints on the embedded ledger', async t => {
    for (const args of [[], ['--since', '150'], ['--since', new Date(now - DAY).toISOString()], ['--type', 'decisions,GraceOpened']]) {
      const [viaNats, local] = await Promise.all([
        cli(['events', '--json', ...args, '--config', n.config]), cli(['events', '--json', ...args, '--config', a.config]),
      ])
      t.equal(viaNats.code, 0, viaNats.stderr)
      t.ok(rows(local.stdout).length > 0, `${args.join(' ')}: not empty`)
      t.same(rows(viaNats.stdout), rows(local.stdout), `the same with ${args.join(' ') || 'no option'}`)
    }
    const text = await cli(['events', '--since', '3', '--config', n.config])
    t.equal(text.stdout.split('\n')[0]?.split(/ +/)[0], '3.0', 'text lines start with SEQ.INDEX')
  })

  t.test('a stream in chunks of every size after messages of one entry (as written before chunks): events and replay --from-bus read it alike', async t => {
    const mixed = await writeConfig(await tempDir(t), `${SECOND_JAIL}bus: { nats: { servers: [${server.url}], subject_prefix: mixed, stream_prefix: MIXED } }\n`)
    await jsm.streams.add({ name: 'MIXED_LEDGER', subjects: ['mixed.ledger'] })
    const js = nc.jetstream()
    let messages = 0
    const put = async (data: Uint8Array): Promise<void> => {
      await js.publish('mixed.ledger', data, { expect: { lastSequence: messages } })
      messages++
    }
    const OLD = 50
    for (const e of entries.slice(0, OLD)) await put(encodeEntry(e))
    const sizes = [1, 7, 37, 2, 100]
    for (let i = OLD, k = 0; i < entries.length; k++) {
      const n = sizes[k % sizes.length] as number
      await put(encodeChunk(entries.slice(i, i + n).map(encodeEntry)))
      i += n
    }
    t.ok(messages > OLD + 5, `${messages} messages`)
    const last = entries.length
    const since = [1, 2, OLD - 1, OLD, OLD + 1, OLD + 2, OLD + 8, OLD + 9, OLD + 46, last - 1, last, last + 3].map(String)
    for (const i of [0, 10, OLD, OLD + 3, 200, last - 1]) since.push(new Date(entries[Math.min(i, last - 1)]?.at ?? 0).toISOString())
    for (const args of [[], ...since.map(s => ['--since', s]), ['--type', 'decisions']]) {
      // The two at once: one reads NATS, the other the ledger (one at a time: LevelDB's lock).
      const [viaNats, local] = await Promise.all([
        cli(['events', '--json', ...args, '--config', mixed.config]), cli(['events', '--json', ...args, '--config', a.config]),
      ])
      t.equal(viaNats.code, 0, viaNats.stderr)
      t.same(rows(viaNats.stdout), rows(local.stdout), `the same with ${args.join(' ') || 'no option'}`)
    }
    const r = await cli(['replay', '--from-bus', '--config', mixed.config], { timeout: 60_000 })
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, new RegExp(`seeded \\S+ from MIXED_LEDGER: ${last} entries`))
    t.same(await bansJson(mixed.config), await bansJson(a.config), 'the same bans in force')
  })

  t.test('replay --from-bus seeds a ledger equal to the original', async t => {
    const r = await cli(['replay', '--from-bus', '--config', n.config], { timeout: 60_000 })
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, new RegExp(`seeded \\S+ from BANLEDGER_LEDGER: ${entries.length} entries, \\d+ addresses, \\d+ bans in force, in [\\d.]+s`))
    t.match(r.stdout, /projections verified: replay equals the stored state/)
    t.same(await bansJson(n.config), await bansJson(a.config), 'the same bans in force')
    t.ok((await bansJson(n.config)).length >= 30, "bans in force to compare")

    const [orig, seeded] = await Promise.all([
      LedgerStore.open(join(dirname(a.config), 'data', 'ledger'), { create: false }),
      LedgerStore.open(join(dirname(n.config), 'data', 'ledger'), { create: false }),
    ])
    try {
      const dump = async (s: LedgerStore) => {
        const log: string[] = []
        // Entries, not stored values: each ledger groups its entries in chunks as its batches came.
        for await (const chunk of s.entries()) for (const v of chunk) log.push(Buffer.from(v).toString('hex'))
        const states: string[] = []
        for await (const chunk of s.rawStates()) for (const [k, v] of chunk) states.push(`${k} ${Buffer.from(v).toString('hex')}`)
        const ids = entries.flatMap(e => (e.cause.type === 'tick' ? [] : [e.cause.id]))
        return { seq: await s.lastSeq(), log, states, ids: await s.seqsOf(ids) }
      }
      const [x, y] = [await dump(orig), await dump(seeded)]
      t.equal(y.seq, x.seq)
      t.same(y.log, x.log, 'the log, byte for byte')
      t.same(y.states, x.states, 'every projection row, byte for byte')
      t.ok(x.states.length > 50)
      t.same(y.ids, x.ids, 'the idempotency index')
    } finally {
      await Promise.all([orig.close(), seeded.close()])
    }
    const verify = await cli(['replay', '--config', n.config])
    t.equal(verify.code, 0, verify.stderr)

    // The seeded ledger knows what it stored: the same input is a duplicate.
    const again = await Ledger.open({ dir: join(dirname(n.config), 'data', 'ledger'), rules: rulesFromConfig(await loadConfig(n.config)) })
    const stored = entries.find(e => e.cause.type === 'operator') as LedgerEntry
    t.same(await again.submit([stored.cause]), [{ seq: stored.seq, duplicate: true, events: [] }])
    await again.close()

    const refused = await cli(['replay', '--from-bus', '--config', n.config])
    t.equal(refused.code, 1)
    t.match(refused.stderr, /already holds entries \(up to sequence \d+\): --from-bus seeds a new ledger only/)
  })

  t.test('replay --from-bus takes an empty ledger, and refuses a stream that lost its start', async t => {
    const e = await writeConfig(await tempDir(t), SECOND_JAIL + bus)
    const emptyLedger = await LedgerStore.open(join(dirname(e.config), 'data', 'ledger'))
    await emptyLedger.close()
    const r = await cli(['replay', '--from-bus', '--config', e.config], { timeout: 60_000 })
    t.equal(r.code, 0, r.stderr)
    t.same(await bansJson(e.config), await bansJson(a.config))

    const embedded = await cli(['replay', '--from-bus', '--config', a.config])
    t.equal(embedded.code, 2)
    t.match(embedded.stderr, /has no bus: \{ nats: \.\.\. \}/)

    // The last message only (the last three entries; the history before them went in other messages).
    await jsm.streams.purge('BANLEDGER_LEDGER', { keep: 1 })
    const g = await writeConfig(await tempDir(t), SECOND_JAIL + bus)
    const lost = await cli(['replay', '--from-bus', '--config', g.config])
    t.equal(lost.code, 1)
    t.match(lost.stderr, /the stream BANLEDGER_LEDGER starts at sequence \d+: entries 1 to \d+ are gone/)
    await t.rejects(access(join(dirname(g.config), 'data', 'ledger')), { code: 'ENOENT' }, 'nothing left behind')
  })
})

t.test('as the operator user of ops/nats/users.conf (TLS, passwords, its inbox)', async t => {
  if (!(await requireNatsServer(t))) return
  const nats = await startSecuredNats(t)
  const a = await writeConfig(await tempDir(t), SECOND_JAIL)
  const ledger = await Ledger.open({ dir: join(dirname(a.config), 'data', 'ledger'), rules: rulesFromConfig(await loadConfig(a.config)) })
  t.teardown(() => ledger.close())
  const bus = new NatsBus({ nc: await connectAs(t, nats, 'ledger'), config: natsConfig(nats), host: 'core', logger: pino({ level: 'silent' }), timeouts: NATS_TIMEOUTS })
  t.teardown(() => bus.close())
  await bus.publishLedger(ledgerFeed(ledger))
  const now = Date.now()
  await ledger.submit(history(now).slice(0, 120))
  const nc = await connectAs(t, nats, 'ledger')
  const jsm = await nc.jetstreamManager()
  await waitFor(async () => await publishedSeq(jsm) === ledger.seq, { what: 'the entries in the stream', timeout: 20_000 })

  // The CLI's secret comes from its environment (inherited from this process).
  process.env.BANLEDGER_TEST_OPERATOR_PW = nats.users.operator.pass
  const n = await writeConfig(await tempDir(t), `${SECOND_JAIL}bus:
  nats:
    servers: [${nats.url}]
    user: operator
    password: { env: BANLEDGER_TEST_OPERATOR_PW }
    tls: { ca_file: ${nats.caFile} }
    inbox_prefix: _INBOX.core
`)
  const all = await cli(['events', '--json', '--config', n.config])
  t.equal(all.code, 0, all.stderr)
  t.equal(rows(all.stdout).at(-1)?.seq, ledger.seq, 'every entry')
  const entries = await allEntries(ledger.store)
  const time = entries[60]?.at ?? 0
  const since = await cli(['events', '--json', '--since', `@${Math.ceil(time / 1000)}`, '--config', n.config])
  t.equal(since.code, 0, since.stderr)
  t.equal(rows(since.stdout)[0]?.seq, entries.find(e => e.at >= Math.ceil(time / 1000) * 1000)?.seq, '--since TIME (probes)')

  const seeded = await cli(['replay', '--from-bus', '--config', n.config])
  t.equal(seeded.code, 0, seeded.stderr)
  t.match(seeded.stdout, /projections verified/)
  await ledger.close()
  t.same(await bansJson(n.config), await bansJson(a.config), 'the seeded ledger has the same bans')

  process.env.BANLEDGER_TEST_OPERATOR_PW = 'pwwrong'
  const denied = await cli(['events', '--config', n.config])
  t.equal(denied.code, 1)
  t.match(denied.stderr, /cannot connect to NATS \(nats:\/\/127\.0\.0\.1:\d+\): .*authorization violation/i)
  delete process.env.BANLEDGER_TEST_OPERATOR_PW
})
