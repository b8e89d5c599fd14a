// Builders for rules tests: a jail policy with the seed's defaults, a rules
// context, and a given/when/then harness over decide + evolve.
import { makeRulesContext, type RulesContext } from '../../ledger/rules/context.js'
import { decide, decideTick, type StateView } from '../../ledger/rules/decide.js'
import { evolve } from '../../ledger/rules/evolve.js'
import { nextDue } from '../../ledger/rules/lifecycle.js'
import type { AddressState, DomainEvent, JailPolicy, LedgerInput, LogEvent, Millis } from '../../ledger/rules/types.js'

export const SEC = 1000
export const MIN = 60 * SEC
export const HOUR = 60 * MIN
export const DAY = 24 * HOUR
export const T0 = Date.UTC(2026, 10, 2, 10, 0, 0)

export function policy(over: Partial<JailPolicy> = {}): JailPolicy {
  const findtime = over.findtime ?? 48 * HOUR
  return {
    maxretry: 3, findtime, bantime: 5 * DAY, grace: findtime, graceMaxFailures: 10,
    successLiftsBan: true, increment: null, ...over,
  }
}

export function rulesContext(
  jails: Record<string, Partial<JailPolicy>> = { ssh: {} },
  ignore: readonly string[] = ['127.0.0.1/8', '::1'],
  own: readonly string[] = [],
): RulesContext {
  return makeRulesContext(
    Object.entries(jails).map(([name, p]) => ({ name, policy: policy(p), ignoreip: [] })),
    ignore, own, policy(),
  )
}

let counter = 0
export function failure(ip: string, at: Millis, over: Partial<LogEvent> = {}): LogEvent {
  return { type: 'log', kind: 'failure', id: `t-${++counter}`, jail: 'ssh', ip, at, host: 'a', source: 'test', ...over }
}
export function success(ip: string, at: Millis, over: Partial<LogEvent> = {}): LogEvent {
  return { ...failure(ip, at, over), kind: 'success', ...over }
}

/** An in-memory ledger over the pure rules: given inputs, then the events of one more. */
export class RulesHarness {
  readonly states = new Map<string, AddressState>()
  readonly ctx: RulesContext
  readonly history: DomainEvent[] = []

  constructor(ctx: RulesContext = rulesContext()) {
    this.ctx = ctx
  }

  readonly view: StateView = (jail, ip) => this.states.get(`${jail}/${ip}`)

  /** Decides and applies one input; returns its events. */
  when(input: LedgerInput): DomainEvent[] {
    let events: DomainEvent[]
    if (input.type === 'tick') {
      const due = [...this.states].flatMap(([key, state]) => {
        const [jail = '', ip = ''] = key.split('/')
        const p = this.ctx.policyFor(jail) ?? this.ctx.fallbackPolicy
        return nextDue(state, p) <= input.at ? [{ jail, ip, state }] : []
      })
      events = decideTick(input.at, due, this.ctx)
    } else {
      events = decide(input, this.view, this.ctx)
    }
    for (const e of events) {
      const key = `${e.jail}/${e.ip}`
      const next = evolve(this.states.get(key), e)
      if (next === undefined) this.states.delete(key)
      else this.states.set(key, next)
    }
    this.history.push(...events)
    return events
  }

  given(...inputs: LedgerInput[]): this {
    for (const i of inputs) this.when(i)
    return this
  }

  banned(ip: string, jail = 'ssh'): boolean {
    return this.states.get(`${jail}/${ip}`)?.ban != null
  }
}

export const types = (events: readonly DomainEvent[]): string[] => events.map(e => e.type)
