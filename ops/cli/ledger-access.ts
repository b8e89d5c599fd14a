// How a CLI command reaches the ledger: through the running service's
// control socket when it holds the ledger, else by opening it directly.
import { access, mkdir } from 'node:fs/promises'
import { Ledger } from '../../ledger/ledger.js'
import type { LedgerEntry } from '../../ledger/rules/types.js'
import { LedgerLockedError, LedgerStore } from '../../ledger/store/ledger-store.js'
import { entriesFrom } from '../../ledger/store/log-reader.js'
import { remoteLedgerApi, tryConnect } from '../../services/control/control-client.js'
import { localLedgerApi, type LedgerApi } from '../../services/control/ledger-api.js'
import { rulesFromConfig } from '../../services/run/rules-from-config.js'
import { controlSocket, ledgerDir } from '../../services/run/data-dir.js'
import type { Config } from '../config/types.js'

export type LedgerAccess = LedgerApi & { readonly via: 'service' | 'direct' | 'bus' }

/** `create`: make the ledger when there is none (commands that write);
 *  commands that only read refuse instead of leaving an empty ledger behind.
 *  On a fleet host without the ledger (bus: nats, no ledger in data_dir) the
 *  API goes over the bus (bus-ledger-api.ts); `env` has its credentials. */
export async function openLedgerApi(
  config: Config, opts: Readonly<{ create: boolean; env?: Readonly<Record<string, string | undefined>> }>,
): Promise<LedgerAccess> {
  const socketPath = controlSocket(config)
  const socket = await tryConnect(socketPath)
  if (socket !== null) {
    socket.destroy()
    return { ...remoteLedgerApi(socketPath), via: 'service' }
  }
  if (config.bus.kind === 'nats' && !(await access(ledgerDir(config)).then(() => true, () => false))) {
    // Imported here: NATS's client is for fleet hosts only.
    const { busLedgerApi } = await import('./bus-ledger-api.js')
    return busLedgerApi(config.bus.nats, config.host, opts.env ?? {})
  }
  let ledger: Ledger
  try {
    if (opts.create) await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
    ledger = await Ledger.open({ dir: ledgerDir(config), rules: rulesFromConfig(config), create: opts.create })
  } catch (err) {
    throw lockedHint(err, socketPath)
  }
  return { ...localLedgerApi(ledger, Date.now, () => ledger.close()), via: 'direct' }
}

/** The ledger's log, read only. */
export type LogReader = Readonly<{
  via: 'service' | 'direct'
  /** At most `limit` committed entries from sequence `from` on; fewer does
   *  not mean the end (read on until none comes). */
  entries(from: number, limit: number): Promise<LedgerEntry[]>
  close(): Promise<void>
}>

/** Opens the log for reading: through the running service (LedgerApi.entries
 *  on its control socket), else the store itself, without loading the
 *  projection as openLedgerApi does. Rejects like openLedgerApi when there
 *  is no ledger or another process holds it. */
export async function openLogReader(config: Config): Promise<LogReader> {
  const socketPath = controlSocket(config)
  const socket = await tryConnect(socketPath)
  if (socket !== null) {
    socket.destroy()
    const api = remoteLedgerApi(socketPath)
    return { via: 'service', entries: (from, limit) => api.entries(from, limit), close: () => api.close() }
  }
  let store: LedgerStore
  try {
    store = await LedgerStore.open(ledgerDir(config), { create: false })
  } catch (err) {
    throw lockedHint(err, socketPath)
  }
  return { via: 'direct', entries: async (from, limit) => (limit < 1 ? [] : entriesFrom(store, from, limit)), close: () => store.close() }
}

/** A locked ledger whose holder does not answer on the socket: say so. */
function lockedHint(err: unknown, socketPath: string): unknown {
  if (!(err instanceof LedgerLockedError)) return err
  return new LedgerLockedError(`${err.message}, and nothing answers on ${socketPath}`, { cause: err })
}
