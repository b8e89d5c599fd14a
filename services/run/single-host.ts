// The single-host service: watcher, ledger, firewall worker, decision log
// and control socket in one process on the embedded bus. `buildSingleHost` returns an
// unstarted service; main wires it to signals, tests call it directly.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { Ledger } from '../../ledger/ledger.js'
import type { RulesContext } from '../../ledger/rules/context.js'
import type { Decision, Millis } from '../../ledger/rules/types.js'
import type { Config } from '../../ops/config/types.js'
import { EmbeddedBus } from '../bus/embedded-bus.js'
import { serveControl, type ControlServer } from '../control/control-server.js'
import { localLedgerApi } from '../control/ledger-api.js'
import { createBackend } from '../firewall/backends/create-backend.js'
import { execRunner } from '../firewall/command-runner.js'
import { netProtectionCheck, type Escalation } from '../firewall/escalate.js'
import { FirewallWorker } from '../firewall/firewall-worker.js'
import { defaultGateways, protectionCheck } from '../firewall/protected-addresses.js'
import { Watcher } from '../watcher/watcher.js'
import { buildNotifier, type Notifier } from './notifier-from-config.js'
import { watchedJails } from './filters-from-config.js'
import { ownAddresses, rulesFromConfig } from './rules-from-config.js'

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

export const ledgerDir = (config: Config): string => join(config.dataDir, 'ledger')
export const controlSocket = (config: Config): string => join(config.dataDir, 'control.sock')

export function logDecision(logger: Logger, d: Decision): void {
  const until = d.type === 'ban' ? new Date(d.until).toISOString() : undefined
  const text = d.type === 'ban'
    ? `ban ${d.ip} in ${d.jail} until ${until} (${d.reason})`
    : `unban ${d.ip} in ${d.jail} (${d.reason})`
  logger.info({ decision: { type: d.type, jail: d.jail, ip: d.ip, reason: d.reason, until, seq: d.seq } }, text)
}

/** IPv6 /64 escalation as configured (firewall.ipv6_escalate), or null when off.
 *  A /64 overlapping an ignore entry, this host's addresses or `gateways` is never banned. */
export function escalationFromConfig(
  config: Config, gateways: readonly string[], own: readonly string[] = config.ignoreSelf ? ownAddresses() : [],
): Escalation | null {
  const threshold = config.firewall.ipv6Escalate
  if (threshold === null) return null
  const perJail = new Map(config.jails.map(j => [j.name, j.ignoreip]))
  return { threshold, protection: netProtectionCheck([...config.ignoreip, ...own, ...gateways], perJail) }
}

/** The firewall worker on the configured backend, fed from the projection. */
export async function buildFirewall(
  config: Config, rules: RulesContext, ledger: Ledger, logger: Logger, now: () => Millis,
): Promise<FirewallWorker> {
  const { backend, reason } = await createBackend(config.firewall.backend, {
    run: execRunner,
    maxelem: config.firewall.maxelem,
    log: (msg, data) => logger.info({ firewall: data }, msg),
  })
  logger.info({ firewall: { backend: backend.name } }, `firewall backend ${reason}`)
  const gateways = await defaultGateways(execRunner)
  return new FirewallWorker({
    backend,
    jails: config.jails.map(j => ({ name: j.name, ports: j.ports, protocol: j.protocol })),
    snapshot: async () => ledger.activeBans(now()),
    protection: protectionCheck(rules, gateways),
    escalation: escalationFromConfig(config, gateways),
    checkInterval: config.firewall.checkInterval,
    logger,
    now,
  })
}

export function buildSingleHost(config: Config, deps: ServiceDeps): Service {
  const { logger } = deps
  const now = deps.now ?? Date.now
  const rules = rulesFromConfig(config)
  let ledger: Ledger | null = null
  let bus: EmbeddedBus | null = null
  let watcher: Watcher | null = null
  let control: ControlServer | null = null
  let firewall: FirewallWorker | null = null
  let notifier: Notifier | null = null
  let timer: NodeJS.Timeout | null = null
  let stopping: Promise<void> | null = null

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

  return {
    async start() {
      const jails = await watchedJails(config) // fails early on unknown or broken filters
      await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
      ledger = await Ledger.open({ dir: ledgerDir(config), rules })
      logger.info({ dataDir: config.dataDir, seq: ledger.seq, addresses: ledger.addresses, bans: ledger.activeBans(now()).length },
        'ledger open at sequence %d', ledger.seq)
      bus = new EmbeddedBus((err, where) => logger.error({ err }, '%s failed', where))
      const l = ledger
      l.onFailure(err => {
        logger.fatal({ err: err.message }, 'the ledger failed: %s; stopping', err.message)
        deps.onFatal?.(err)
      })
      const b = bus
      b.consumeEvents(async events => { await l.submit(events) })
      l.onCommit((_entries, decisions) => {
        void b.publishDecisions(decisions)
        scheduleTick()
      })
      b.subscribeDecisions(ds => { for (const d of ds) logDecision(logger, d) })
      firewall = await buildFirewall(config, rules, l, logger, now)
      const fw = firewall
      b.subscribeDecisions(ds => fw.onDecisions(ds))
      await fw.start()
      // One channel failing never blocks another, nor a ban (S5): decisions
      // are stored in the outbox and delivered by each channel's own loop.
      notifier = await buildNotifier(config, deps.env ?? {}, logger, now)
      const n = notifier
      if (n !== null) {
        b.subscribeDecisions(ds => n.worker.onDecisions(ds).catch(err =>
          logger.error({ err: (err as Error).message }, 'notifier: could not store decisions: %s', (err as Error).message)))
      }
      control = await serveControl(controlSocket(config), localLedgerApi(l, now),
        err => logger.warn({ err: (err as Error).message }, 'control request failed'),
        async () => (notifier === null ? [] : notifier.worker.status()))
      await l.tick(now())
      scheduleTick()
      watcher = new Watcher({
        host: config.host, jails, offsetsFile: join(config.dataDir, 'watcher', 'offsets.json'),
        maxLineBytes: config.watcher.maxLineBytes, pollInterval: config.watcher.pollInterval, bus: b, logger, now,
      })
      await watcher.start()
      logger.info({ jails: config.jails.map(j => j.name), host: config.host }, 'banledger running')
    },
    stop() {
      stopping ??= (async () => {
        if (timer !== null) clearTimeout(timer)
        await watcher?.close()
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
