// Where banledger lives on NATS: three streams and their subjects, named
// from two prefixes (bus.nats.subject_prefix, bus.nats.stream_prefix).
//
//   <P>_EVENTS     <p>.events.<host>.<jail>   LedgerInput (a LogEvent)     watchers
//                  <p>.commands.<host>        LedgerInput (command/import)  operators
//   <P>_LEDGER     <p>.ledger                 LedgerChunk: consecutive entries (proto/ledger-chunk.ts)
//   <P>_DECISIONS  <p>.decisions.<jail>       Decision
//   (core NATS)    <p>.snapshot               request; replies: BanSnapshot chunks, then an empty message
//
// A host name becomes one subject token with its dots written `~` (a
// character host names cannot hold), so web1.example.org publishes on
// banledger.events.web1~example~org.ssh and no two hosts share a token.
import type { NatsBusConfig } from '../bus-config.js'

export const hostToken = (host: string): string => host.replaceAll('.', '~')

export type NatsNames = Readonly<{
  streams: Readonly<{ events: string; ledger: string; decisions: string }>
  events: (host: string, jail: string) => string
  eventsAll: string
  commands: (host: string) => string
  commandsAll: string
  ledger: string
  decisions: (jail: string) => string
  decisionsAll: string
  snapshot: string
}>

export function natsNames(config: Pick<NatsBusConfig, 'subjectPrefix' | 'streamPrefix'>): NatsNames {
  const p = config.subjectPrefix
  const s = config.streamPrefix
  return {
    streams: { events: `${s}_EVENTS`, ledger: `${s}_LEDGER`, decisions: `${s}_DECISIONS` },
    events: (host, jail) => `${p}.events.${hostToken(host)}.${jail}`,
    eventsAll: `${p}.events.>`,
    commands: host => `${p}.commands.${hostToken(host)}`,
    commandsAll: `${p}.commands.>`,
    ledger: `${p}.ledger`,
    decisions: jail => `${p}.decisions.${jail}`,
    decisionsAll: `${p}.decisions.>`,
    snapshot: `${p}.snapshot`,
  }
}

/** The inbox subjects of `host`'s processes: `bus.nats.inbox_prefix`, else
 *  `_INBOX.<host token>`, so that a server can keep each host to its own replies. */
export const inboxPrefix = (config: Pick<NatsBusConfig, 'inboxPrefix'>, host: string): string =>
  config.inboxPrefix ?? `_INBOX.${hostToken(host)}`

/** A durable consumer name from a group name: letters, digits, _ and -. */
export const consumerName = (group: string): string => group.replace(/[^A-Za-z0-9_-]/g, '~').slice(0, 64)
