// The LedgerApi of a fleet host that does not hold the ledger (bus: nats,
// no ledger in data_dir): commands and imports are published on this
// host's commands subject, where the ledger takes them (the publish
// resolves once the events stream stored them); the bans in force come
// from a snapshot the ledger answers. What needs the log itself (explain,
// bans --at, replay) is for the ledger host.
import { connect } from 'nats'
import type { SubmitResult } from '../../ledger/ledger.js'
import type { BusInput } from '../../ledger/rules/types.js'
import type { NatsBusConfig } from '../../services/bus/bus-config.js'
import { connectionOptions } from '../../services/bus/nats/nats-connect.js'
import { NatsBus } from '../../services/bus/nats/nats-bus.js'
import type { LedgerApi } from '../../services/control/ledger-api.js'
import { pinoLogger } from './logger.js'
import { UsageError } from './usage-error.js'

export async function busLedgerApi(
  nats: NatsBusConfig, host: string, env: Readonly<Record<string, string | undefined>>,
): Promise<LedgerApi & { readonly via: 'bus' }> {
  const logger = pinoLogger('silent')
  const options = await connectionOptions(nats, { host, name: `banledger cli @${host}`, env })
  const nc = await connect({ ...options, waitOnFirstConnect: false, maxReconnectAttempts: 3 })
  const bus = new NatsBus({ nc, config: nats, host, logger })
  const onLedgerHost = (what: string) => async (): Promise<never> => {
    throw new UsageError(`${what} needs the ledger itself: run it on the ledger host (this host has no ledger in its data_dir)`)
  }
  return {
    via: 'bus',
    submit: async inputs => {
      const remote = inputs.filter((i): i is BusInput => i.type !== 'tick')
      await bus.publishInputs(remote)
      // Stored in the stream, not yet decided: the ledger says what it did
      // in its decision log and in `banledger events`.
      return remote.map((): SubmitResult => ({ seq: 0, duplicate: false, events: [] }))
    },
    bans: async at => {
      if (at !== null) return onLedgerHost('bans --at')()
      const s = await bus.snapshot()
      return [...s.bans].sort((a, b) => a.since - b.since || a.ip.localeCompare(b.ip))
    },
    explain: onLedgerHost('explain'),
    verify: onLedgerHost('replay'),
    status: onLedgerHost('status'),
    entries: onLedgerHost('events without bus access'),
    close: () => bus.close(),
  }
}
