// Human-readable lines for entries and events (explain, ban/unban output).
import type { DomainEvent, LedgerEntry, LedgerInput } from '../../ledger/rules/types.js'
import { iso } from './time-arg.js'

export function describeEvent(e: DomainEvent): string {
  const where = `${e.jail} ${e.ip}`
  switch (e.type) {
    case 'FailureRecorded': return `failure ${e.outcome} (${where}, seen on ${e.host})`
    case 'CounterCleared': return `counter cleared (${where})`
    case 'GraceOpened': return `grace window open until ${iso(e.until)} (${where})`
    case 'BanIssued': return `BANNED until ${iso(e.until)} (${where}, ${e.reason}${e.failures > 0 ? `, ${e.failures} failures` : ''}${e.repeat > 0 ? `, repeat ban #${e.repeat + 1}` : ''})`
    case 'BanLifted': return `ban lifted (${where}, ${e.reason})`
    case 'BanExpired': return `ban expired at ${iso(e.at)} (${where})`
    case 'StateForgotten': return `state forgotten (${where})`
    case 'NoEffect': return `no effect: ${e.why} (${where})`
    default: {
      const never: never = e
      return JSON.stringify(never)
    }
  }
}

export function describeCause(c: LedgerInput): string {
  switch (c.type) {
    case 'log': return `${c.kind} seen on ${c.host} in ${c.source}${c.user !== undefined ? ` (user ${JSON.stringify(c.user.slice(0, 64))})` : ''}`
    case 'operator': return `operator ${c.action} by ${c.actor}${c.reason !== '' ? `: ${c.reason}` : ''}`
    case 'import': return `import from ${c.source} (banned ${iso(c.bannedAt)})`
    case 'tick': return 'time passed'
    default: {
      const never: never = c
      return JSON.stringify(never)
    }
  }
}

export const describeEntry = (e: LedgerEntry): string[] =>
  [`#${e.seq} ${iso(e.at)} ${describeCause(e.cause)}`, ...e.events.map(ev => `    -> ${describeEvent(ev)}`)]
