// How a CLI command reaches the ledger: through the running service's
// control socket when it holds the ledger, else by opening it directly.
import { mkdir } from 'node:fs/promises'
import { Ledger } from '../../ledger/ledger.js'
import { LedgerLockedError } from '../../ledger/store/ledger-store.js'
import { remoteLedgerApi, tryConnect } from '../../services/control/control-client.js'
import { localLedgerApi, type LedgerApi } from '../../services/control/ledger-api.js'
import { rulesFromConfig } from '../../services/run/rules-from-config.js'
import { controlSocket, ledgerDir } from '../../services/run/service.js'
import type { Config } from '../config/types.js'

export type LedgerAccess = LedgerApi & { readonly via: 'service' | 'direct' }

/** `create`: make the ledger when there is none (commands that write);
 *  commands that only read refuse instead of leaving an empty ledger behind. */
export async function openLedgerApi(config: Config, opts: Readonly<{ create: boolean }>): Promise<LedgerAccess> {
  const socketPath = controlSocket(config)
  const socket = await tryConnect(socketPath)
  if (socket !== null) {
    socket.destroy()
    return { ...remoteLedgerApi(socketPath), via: 'service' }
  }
  let ledger: Ledger
  try {
    if (opts.create) await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
    ledger = await Ledger.open({ dir: ledgerDir(config), rules: rulesFromConfig(config), create: opts.create })
  } catch (err) {
    if (err instanceof LedgerLockedError) {
      throw new LedgerLockedError(`${err.message}, and nothing answers on ${socketPath}`, { cause: err })
    }
    throw err
  }
  return { ...localLedgerApi(ledger, Date.now, () => ledger.close()), via: 'direct' }
}
