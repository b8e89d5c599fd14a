// decide: what an input does, given the current state. Pure and
// deterministic: the time is the input's own (`at`), never the clock.
// Same inputs + same config = same events, on any host, at any replay.
import { banLength, EMPTY_STATE, forgettable } from './lifecycle.js'
import type { RulesContext } from './context.js'
import type {
  AddressState, DomainEvent, ImportedBan, JailPolicy, LogEvent, Millis, OperatorCommand,
} from './types.js'

/** Reads the current state of one (jail, address); undefined when unknown. */
export type StateView = (jail: string, ip: string) => AddressState | undefined

/** A (jail, address) whose state is due (see lifecycle.nextDue), for ticks. */
export type DueState = Readonly<{ jail: string; ip: string; state: AddressState }>

export function decide(input: LogEvent | OperatorCommand | ImportedBan, view: StateView, ctx: RulesContext): DomainEvent[] {
  switch (input.type) {
    case 'log':
      return input.kind === 'failure' ? decideFailure(input, view, ctx) : decideSuccess(input, view, ctx)
    case 'operator':
      return decideOperator(input, view, ctx)
    case 'import':
      return decideImport(input, view, ctx)
    default: {
      const never: never = input
      throw new TypeError(`unknown input ${JSON.stringify(never)}`)
    }
  }
}

/** Expiries and forgetting at time `at`, for the states that came due. */
export function decideTick(at: Millis, due: Iterable<DueState>, ctx: RulesContext): DomainEvent[] {
  const out: DomainEvent[] = []
  for (const { jail, ip, state } of due) {
    const policy = ctx.policyFor(jail) ?? ctx.fallbackPolicy
    let s = state
    if (s.ban !== null && s.ban.until <= at) {
      out.push({ type: 'BanExpired', jail, ip, at: s.ban.until })
      s = { ...s, ban: null, lastBanEnd: Math.max(s.lastBanEnd, s.ban.until) }
    }
    if (forgettable(s, policy, at)) out.push({ type: 'StateForgotten', jail, ip, at })
  }
  return out
}

const noEffect = (jail: string, ip: string, at: Millis, why: string): DomainEvent =>
  ({ type: 'NoEffect', jail, ip, at, why })

/** The state at `at` with a ban that ended before `at` taken off, and the
 *  BanExpired event that says so (pushed to `out`). */
function current(jail: string, ip: string, at: Millis, view: StateView, out: DomainEvent[]): AddressState {
  const s = view(jail, ip) ?? EMPTY_STATE
  if (s.ban === null || s.ban.until > at) return s
  out.push({ type: 'BanExpired', jail, ip, at: s.ban.until })
  return { ...s, ban: null, lastBanEnd: Math.max(s.lastBanEnd, s.ban.until) }
}

function decideFailure(e: LogEvent, view: StateView, ctx: RulesContext): DomainEvent[] {
  const { jail, ip, at, host } = e
  const policy = ctx.policyFor(jail)
  if (policy === undefined) return [noEffect(jail, ip, at, 'unknown jail')]
  const windowStart = at - policy.findtime
  if (ctx.isIgnored(jail, ip)) return [{ type: 'FailureRecorded', jail, ip, at, host, windowStart, outcome: 'ignored' }]
  const out: DomainEvent[] = []
  const s = current(jail, ip, at, view, out)
  if (s.ban !== null) {
    out.push({ type: 'FailureRecorded', jail, ip, at, host, windowStart, outcome: 'while-banned' })
  } else if (s.graceUntil > at && s.graceFailures < policy.graceMaxFailures) {
    out.push({ type: 'FailureRecorded', jail, ip, at, host, windowStart, outcome: 'absorbed' })
  } else {
    const failures = failuresInWindow(s.failures, at, policy.findtime)
    out.push({ type: 'FailureRecorded', jail, ip, at, host, windowStart, outcome: 'counted' })
    if (failures >= policy.maxretry) {
      out.push(banIssued(jail, ip, at, policy, s, 'maxretry', failures))
    }
  }
  return out
}

/** The most failures that any window of length `findtime` holding the new
 *  failure at `at` contains, the new one included. For events in time order
 *  this is the count in (at - findtime, at]; events from several hosts may
 *  arrive out of order, and a failure later than `at` counts as well. */
function failuresInWindow(failures: readonly Millis[], at: Millis, findtime: Millis): number {
  const near: Millis[] = []
  for (let k = 0; k < failures.length; k++) { // indexed: see evolve.ts' withFailure
    const f = failures[k] as Millis
    if (f > at - findtime && f < at + findtime) near.push(f)
  }
  let i = 0
  while (i < near.length && (near[i] as number) <= at) i++
  near.splice(i, 0, at)
  let best = 0
  let lo = 0
  for (let hi = 0; hi < near.length; hi++) {
    while ((near[hi] as number) - (near[lo] as number) >= findtime) lo++
    // The window [lo, hi] must hold the new failure (index i).
    if (lo <= i && i <= hi) best = Math.max(best, hi - lo + 1)
  }
  return best
}

function banIssued(
  jail: string, ip: string, at: Millis, policy: JailPolicy, s: AddressState,
  reason: 'maxretry' | 'operator', failures: number, duration?: Millis,
): DomainEvent {
  const until = at + (duration ?? banLength(policy, s.bans))
  return { type: 'BanIssued', jail, ip, at, until, reason, repeat: s.bans, failures }
}

function decideSuccess(e: LogEvent, view: StateView, ctx: RulesContext): DomainEvent[] {
  const { jail, ip, at } = e
  const policy = ctx.policyFor(jail)
  if (policy === undefined) return [noEffect(jail, ip, at, 'unknown jail')]
  if (ctx.isIgnored(jail, ip)) return [noEffect(jail, ip, at, 'ignored address')]
  const out: DomainEvent[] = []
  // R8: a success anywhere shows the address is legitimate: lift its bans in
  // every jail that allows it, not only in this one.
  for (const other of ctx.jails) {
    if (other === jail) continue
    const os = current(other, ip, at, view, out)
    if (os.ban !== null && (ctx.policyFor(other)?.successLiftsBan ?? false)) {
      out.push({ type: 'BanLifted', jail: other, ip, at, reason: 'success' })
    }
  }
  const s = current(jail, ip, at, view, out)
  if (s.ban !== null && policy.successLiftsBan) out.push({ type: 'BanLifted', jail, ip, at, reason: 'success' })
  if (s.failures.length > 0) out.push({ type: 'CounterCleared', jail, ip, at })
  if (policy.grace > 0) out.push({ type: 'GraceOpened', jail, ip, at, until: Math.max(s.graceUntil, at + policy.grace) })
  return out
}

function decideOperator(c: OperatorCommand, view: StateView, ctx: RulesContext): DomainEvent[] {
  const { jail, ip, at } = c
  const policy = ctx.policyFor(jail)
  if (policy === undefined) return [noEffect(jail, ip, at, 'unknown jail')]
  const out: DomainEvent[] = []
  const s = current(jail, ip, at, view, out)
  switch (c.action) {
    case 'ban':
      if (ctx.isIgnored(jail, ip)) out.push(noEffect(jail, ip, at, 'address is in an ignore list or is this host\'s own'))
      else if (s.ban !== null) out.push(noEffect(jail, ip, at, 'already banned'))
      else out.push(banIssued(jail, ip, at, policy, s, 'operator', 0, c.duration))
      break
    case 'unban':
      if (s.ban === null) out.push(noEffect(jail, ip, at, 'not banned'))
      else out.push({ type: 'BanLifted', jail, ip, at, reason: 'operator' })
      break
    case 'pardon':
      if (s.ban !== null) out.push({ type: 'BanLifted', jail, ip, at, reason: 'operator' })
      if (s.failures.length > 0) out.push({ type: 'CounterCleared', jail, ip, at })
      out.push({ type: 'GraceOpened', jail, ip, at, until: Math.max(s.graceUntil, at + policy.grace) })
      break
    default: {
      const never: never = c.action
      throw new TypeError(`unknown operator action ${String(never)}`)
    }
  }
  return out
}

function decideImport(i: ImportedBan, view: StateView, ctx: RulesContext): DomainEvent[] {
  const { jail, ip, at, bannedAt } = i
  const policy = ctx.policyFor(jail)
  if (policy === undefined) return [noEffect(jail, ip, at, 'unknown jail')]
  if (ctx.isIgnored(jail, ip)) return [noEffect(jail, ip, at, 'address is in an ignore list or is this host\'s own')]
  const until = bannedAt + policy.bantime
  if (until <= at) return [noEffect(jail, ip, at, 'expired')]
  const out: DomainEvent[] = []
  const s = current(jail, ip, at, view, out)
  if (s.ban !== null) out.push(noEffect(jail, ip, at, 'already banned'))
  else out.push({ type: 'BanIssued', jail, ip, at: bannedAt, until, reason: 'import', repeat: s.bans, failures: 0 })
  return out
}
