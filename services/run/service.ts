// The service: the roles this process runs (watcher, ledger, firewall,
// notifier), wired to the bus. On the embedded bus (one host) one process
// runs them all; on NATS each host runs the roles it needs. `buildService`
// returns an unstarted service; `banledger run` wires it to signals.
import { mkdir } from 'node:fs/promises'
import type { Logger } from 'pino'
import { Ledger } from '../../ledger/ledger.js'
import type { Decision, Millis } from '../../ledger/rules/types.js'
import type { Config } from '../../ops/config/types.js'
import { admit } from '../../ledger/rules/admission.js'
import { BusError, type Bus, type BusInput, type Subscription } from '../bus/bus.js'
import { EmbeddedBus } from '../bus/embedded-bus.js'
import { connectNats } from '../bus/nats/nats-connect.js'
import { LogThrottle } from '../log-throttle.js'
import { NatsBus } from '../bus/nats/nats-bus.js'
import { hostToken } from '../bus/nats/nats-names.js'
import { serveControl, type ControlServer } from '../control/control-server.js'
import { localLedgerApi } from '../control/ledger-api.js'
import type { FirewallWorker } from '../firewall/firewall-worker.js'
import { Watcher } from '../watcher/watcher.js'
import { controlSocket, ledgerDir, offsetsFile } from './data-dir.js'
import { buildFirewall } from './firewall-from-config.js'
import { ledgerFeed } from './ledger-feed.js'
import { buildNotifier, type Notifier } from './notifier-from-config.js'
import { watchedJails } from './filters-from-config.js'
import { checkRoles, ROLES, type Role } from './roles.js'
import { rulesFromConfig } from './rules-from-config.js'

export type ServiceDeps = Readonly<{
  logger: Logger
  now?: () => Millis
  /** Something the service cannot recover from in-process (the ledger
   *  failed to write): main stops it and exits non-zero, so that systemd
   *  restarts it and the ledger reopens from disk. */
  onFatal?: (err: Error) => void
  /** The environment as it was at start-up (secrets given as { env: NAME }). */
  env?: Readonly<Record<string, string | undefined>>
}>

export type Service = Readonly<{
  start(): Promise<void>
  /** Ordered, upstream first; lifts no ban (R5). Idempotent. */
  stop(): Promise<void>
}>

/** Longest wait between two expiry checks, so a clock jump is noticed. */
const MAX_TICK_WAIT = 60_000

export function logDecision(logger: Logger, d: Decision): void {
  const until = d.type === 'ban' ? new Date(d.until).toISOString() : undefined
  const text = d.type === 'ban'
    ? `ban ${d.ip} in ${d.jail} until ${until} (${d.reason})`
    : `unban ${d.ip} in ${d.jail} (${d.reason})`
  logger.info({ decision: { type: d.type, jail: d.jail, ip: d.ip, reason: d.reason, until, seq: d.seq } }, text)
}

async function openBus(config: Config, deps: ServiceDeps, roles: readonly Role[], onDiverged: (err: Error) => void): Promise<Bus> {
  const { logger } = deps
  if (config.bus.kind === 'embedded') return new EmbeddedBus((err, where) => logger.error({ err }, '%s failed', where))
  const nc = await connectNats(config.bus.nats, {
    host: config.host, name: `banledger ${roles.join(',')} @${config.host}`, env: deps.env ?? {}, logger,
  })
  return new NatsBus({ nc, config: config.bus.nats, host: config.host, logger, onDiverged })
}

export function buildService(config: Config, deps: ServiceDeps & Readonly<{ roles?: readonly Role[] }>): Service {
  const { logger } = deps
  const now = deps.now ?? Date.now
  const roles = deps.roles ?? ROLES
  const has = (r: Role): boolean => roles.includes(r)
  checkRoles(config, roles)
  const rules = rulesFromConfig(config)
  let ledger: Ledger | null = null
  let bus: Bus | null = null
  let watcher: Watcher | null = null
  let control: ControlServer | null = null
  let firewall: FirewallWorker | null = null
  let notifier: Notifier | null = null
  let timer: NodeJS.Timeout | null = null
  let retry: NodeJS.Timeout | null = null
  let stopping: Promise<void> | null = null
  const subscriptions: Subscription[] = []

  const fatal = (err: Error): void => {
    logger.fatal({ err: err.message }, '%s; stopping', err.message)
    deps.onFatal?.(err)
  }

  const scheduleTick = (): void => {
    if (ledger === null || stopping !== null) return
    if (timer !== null) clearTimeout(timer)
    const due = ledger.nextDueAt()
    const wait = due === undefined ? MAX_TICK_WAIT : Math.min(Math.max(due - now(), 0), MAX_TICK_WAIT)
    timer = setTimeout(() => {
      timer = null
      ledger?.tick(now()).catch(err => logger.error({ err }, 'expiry tick failed')).finally(scheduleTick)
    }, wait)
  }

  /** Inputs from the bus, with the times the ledger trusts (admission.ts);
   *  what is refused or corrected is logged, throttled. */
  const refusedLog = new LogThrottle()
  const correctedLog = new LogThrottle()
  const admitted = (inputs: readonly BusInput[]): BusInput[] => {
    const t = now()
    const out: BusInput[] = []
    for (const input of inputs) {
      const a = admit(input, t, config.maxClockSkew)
      const id = input.id.slice(0, 128)
      if (!a.ok) {
        if (refusedLog.allow(n => logger.warn({ refused: n }, '%d more inputs refused', n))) {
          logger.warn({ input: { id, type: input.type } }, 'input %s refused: %s', id, a.why)
        }
        continue
      }
      if (a.corrected > 0 && correctedLog.allow(n => logger.warn({ corrected: n }, '%d more event times moved back', n))) {
        const host = input.type === 'log' ? input.host.slice(0, 253) : input.type === 'operator' ? input.actor.slice(0, 64) : input.source.slice(0, 64)
        logger.warn({ input: { id, host, correctedMs: a.corrected } },
          'clock of %s ahead of the ledger: event time moved back by %dms', host, a.corrected)
      }
      out.push(a.input)
    }
    return out
  }

  const startLedger = async (b: Bus): Promise<void> => {
    const l = ledger = await Ledger.open({ dir: ledgerDir(config), rules })
    logger.info({ dataDir: config.dataDir, seq: l.seq, addresses: l.addresses, bans: l.activeBans(now()).length },
      'ledger open at sequence %d', l.seq)
    l.onFailure(err => fatal(new Error(`the ledger failed: ${err.message}`)))
    l.onCommit((_entries, decisions) => {
      for (const d of decisions) logDecision(logger, d)
      scheduleTick()
    })
    subscriptions.push(await b.serveSnapshots(() => ({ seq: l.seq, at: now(), bans: l.activeBans(now()) })))
    subscriptions.push(await b.publishLedger(ledgerFeed(l)))
    subscriptions.push(await b.consumeInputs(async inputs => { await l.submit(admitted(inputs)) }))
    control = await serveControl(controlSocket(config), localLedgerApi(l, now),
      err => logger.warn({ err: (err as Error).message }, 'control request failed'),
      async () => (notifier === null ? [] : notifier.worker.status()))
    await l.tick(now())
    scheduleTick()
  }

  const startFirewall = async (b: Bus): Promise<void> => {
    // Decisions at or below the last snapshot's sequence are in it already.
    let floor = 0
    const fw = firewall = await buildFirewall(config, rules, async () => {
      const s = await b.snapshot()
      floor = Math.max(floor, s.seq)
      return s.bans
    }, logger, now)
    subscriptions.push(await b.subscribeDecisions(`firewall-${hostToken(config.host)}`, ds => fw.onDecisions(ds.filter(d => d.seq > floor))))
    // Without a ledger to answer yet, the kernel keeps what it holds and the
    // worker asks again, for as long as it takes.
    let backoff = 1000
    const attempt = async (): Promise<void> => {
      try {
        await fw.start()
      } catch (err) {
        if (!(err instanceof BusError) || stopping !== null) throw err
        logger.warn({ err: err.message }, 'firewall: %s; asking again in %ds', err.message, backoff / 1000)
        retry = setTimeout(() => { void attempt().catch(e => fatal(e as Error)) }, backoff)
        backoff = Math.min(backoff * 2, 30_000)
      }
    }
    await attempt()
  }

  return {
    async start() {
      const jails = has('watcher') ? await watchedJails(config) : [] // fails early on unknown or broken filters
      await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
      const b = bus = await openBus(config, deps, roles, fatal)
      if (has('ledger')) await startLedger(b)
      if (has('firewall')) await startFirewall(b)
      if (has('notifier')) {
        // One channel failing never blocks another, nor a ban (S5): decisions
        // are stored in the outbox and delivered by each channel's own loop.
        const n = notifier = await buildNotifier(config, deps.env ?? {}, logger, now)
        if (n !== null) subscriptions.push(await b.subscribeDecisions('notifier', ds => n.worker.onDecisions(ds)))
      }
      if (has('watcher')) {
        watcher = new Watcher({
          host: config.host, jails, offsetsFile: offsetsFile(config),
          maxLineBytes: config.watcher.maxLineBytes, pollInterval: config.watcher.pollInterval, bus: b, logger, now,
        })
        await watcher.start()
      }
      logger.info({ roles, bus: config.bus.kind, jails: config.jails.map(j => j.name), host: config.host },
        'banledger running (%s)', roles.join(', '))
    },
    stop() {
      stopping ??= (async () => {
        if (timer !== null) clearTimeout(timer)
        if (retry !== null) clearTimeout(retry)
        await watcher?.close()
        for (const s of subscriptions.splice(0).reverse()) await s.unsubscribe()
        await firewall?.close()
        await notifier?.close()
        await control?.close()
        await ledger?.close()
        await bus?.close()
        logger.info('banledger stopped; bans stay in force')
      })()
      return stopping
    },
  }
}
