// The firewall worker: makes the kernel hold exactly the bans in force. On
// start it reconciles with a snapshot of the projection, then follows the
// decisions; every check interval (and on demand) it compares again and
// repairs drift. With IPv6 /64 escalation on (escalate.ts), an IPv6
// decision triggers a reconcile instead, as the bans of a /64 are counted
// over the whole snapshot. A stop lifts nothing (R5): bans stay in the
// kernel, where nftables and ipset also expire them by themselves.
import type { Logger } from 'pino'
import type { Decision, Millis } from '../../ledger/rules/types.js'
import type { BanAdd, BanKey, FirewallBackend, JailScope } from './backend.js'
import { escalate, type Escalation } from './escalate.js'
import type { ProtectionCheck } from './protected-addresses.js'
import { reconcile, type DesiredBan, type Drift } from './reconcile.js'

export type FirewallWorkerOptions = Readonly<{
  backend: FirewallBackend
  jails: readonly JailScope[]
  /** The bans in force now (the projection's snapshot). */
  snapshot: () => Promise<readonly DesiredBan[]>
  protection: ProtectionCheck
  /** IPv6 /64 escalation; absent or null: off. */
  escalation?: Escalation | null
  /** 0: no periodic check. */
  checkInterval: Millis
  logger: Logger
  now: () => Millis
}>

export type CheckReport = Readonly<Drift & { refused: number; inForce: number }>

export class FirewallWorker {
  readonly #o: FirewallWorkerOptions
  readonly #jails: Set<string>
  /** Every backend call runs here, one at a time. */
  #chain: Promise<unknown> = Promise.resolve()
  /** Decisions waiting for the next apply, last one per address wins. */
  #pending = new Map<string, { add: BanAdd } | { del: BanKey }>()
  #flushing = false
  /** A reconcile is queued for IPv6 decisions (escalation on). */
  #recheckQueued = false
  #timer: NodeJS.Timeout | null = null
  #closed = false

  constructor(opts: FirewallWorkerOptions) {
    this.#o = opts
    this.#jails = new Set(opts.jails.map(j => j.name))
  }

  /** Sets up the kernel side and reconciles it with the snapshot. */
  async start(): Promise<CheckReport> {
    const report = await this.check('start')
    if (this.#o.checkInterval > 0) {
      this.#timer = setInterval(() => {
        this.check('periodic check').catch(err => this.#o.logger.error({ err: (err as Error).message }, 'firewall check failed: %s', (err as Error).message))
      }, this.#o.checkInterval)
      this.#timer.unref()
    }
    return report
  }

  /** Compares the kernel with the bans in force and repairs the difference. */
  check(why: string): Promise<CheckReport> {
    return this.#serial(async () => {
      const { backend, logger, now } = this.#o
      await backend.ensure(this.#o.jails)
      const desired: DesiredBan[] = []
      let refused = 0
      for (const b of await this.#o.snapshot()) {
        if (!this.#jails.has(b.jail)) continue
        if (this.#refuse(b.jail, b.ip)) refused++
        else desired.push(b)
      }
      const t = now()
      const { add, del, drift } = reconcile(this.#escalated(desired, t), await backend.list(), t)
      if (add.length + del.length > 0) await backend.apply({ add, del })
      const report = { ...drift, refused, inForce: desired.filter(d => d.until > t).length }
      const changed = drift.missing + drift.stale + drift.retimed > 0
      const level = changed && why !== 'start' ? 'warn' : why === 'periodic check' ? 'debug' : 'info'
      logger[level]({ firewall: { backend: backend.name, ...report } },
        changed
          ? `firewall ${why}: repaired ${drift.missing} missing, ${drift.stale} stale, ${drift.retimed} mistimed; ${report.inForce} bans in force`
          : `firewall ${why}: in sync, ${report.inForce} bans in force`)
      return report
    })
  }

  /** Queues decisions; they reach the kernel in one apply per burst. */
  onDecisions(decisions: readonly Decision[]): void {
    if (this.#closed) return
    const t = this.#o.now()
    let recheck = false
    for (const d of decisions) {
      if (!this.#jails.has(d.jail)) continue
      if (this.#escalation !== null && d.ip.includes(':')) {
        recheck = true
        continue
      }
      const key = `${d.jail}/${d.ip}`
      if (d.type === 'ban') {
        if (d.until <= t || this.#refuse(d.jail, d.ip)) continue
        this.#pending.set(key, { add: { jail: d.jail, ip: d.ip, timeout: d.until - t } })
      } else {
        this.#pending.set(key, { del: { jail: d.jail, ip: d.ip } })
      }
    }
    if (!this.#flushing && this.#pending.size > 0) {
      this.#flushing = true
      void this.#serial(() => this.#flush())
    }
    if (recheck && !this.#recheckQueued) {
      // One reconcile for a burst: it reads the snapshot when it runs.
      this.#recheckQueued = true
      void this.#serial(async () => {
        this.#recheckQueued = false
        await this.#reconcileNow()
      })
    }
  }

  get #escalation(): Escalation | null {
    return this.#o.escalation ?? null
  }

  /** Only bans still in force count towards a /64. */
  #escalated(desired: readonly DesiredBan[], t: Millis): readonly DesiredBan[] {
    return this.#escalation === null ? desired : escalate(desired.filter(d => d.until > t), this.#escalation)
  }

  async #flush(): Promise<void> {
    // Take everything queued while the previous apply ran: one transaction.
    this.#flushing = false
    const batch = this.#pending
    this.#pending = new Map()
    if (batch.size === 0) return
    const add: BanAdd[] = []
    const del: BanKey[] = []
    for (const c of batch.values()) {
      if ('add' in c) add.push(c.add)
      else del.push(c.del)
    }
    try {
      await this.#o.backend.apply({ add, del })
      this.#o.logger.debug({ firewall: { added: add.length, deleted: del.length } }, 'firewall applied')
    } catch (err) {
      // The kernel state is unknown now: compare it all again.
      this.#o.logger.error({ err: (err as Error).message }, 'firewall apply failed (%s); reconciling', (err as Error).message)
      await this.#reconcileNow()
    }
  }

  async #reconcileNow(): Promise<void> {
    const { backend, now } = this.#o
    try {
      await backend.ensure(this.#o.jails)
      const desired = (await this.#o.snapshot()).filter(b => this.#jails.has(b.jail) && this.#refuse(b.jail, b.ip) === false)
      const t = now()
      const { add, del } = reconcile(this.#escalated(desired, t), await backend.list(), t)
      if (add.length + del.length > 0) await backend.apply({ add, del })
    } catch (err) {
      this.#o.logger.error({ err: (err as Error).message }, 'firewall reconcile failed: %s; next check in %dms', (err as Error).message, this.#o.checkInterval)
    }
  }

  #refuse(jail: string, ip: string): boolean {
    const why = this.#o.protection(jail, ip)
    if (why === null) return false
    this.#o.logger.error({ jail, ip: ip.slice(0, 64) }, 'refusing to ban %s in %s: %s', ip.slice(0, 64), jail, why)
    return true
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn)
    this.#chain = run.catch(() => {})
    return run
  }

  /** Waits for the kernel work in flight; lifts nothing. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    await this.#chain
  }
}
