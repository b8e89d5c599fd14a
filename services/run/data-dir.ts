// Where the service keeps its state under data_dir (config `data_dir`).
// A module of its own so that the CLI commands that find the ledger or the
// control socket do not import the whole service to learn a path.
import { join } from 'node:path'
import type { Config } from '../../ops/config/types.js'

export const ledgerDir = (config: Config): string => join(config.dataDir, 'ledger')
export const controlSocket = (config: Config): string => join(config.dataDir, 'control.sock')
export const outboxDir = (config: Config): string => join(config.dataDir, 'notifier')
export const offsetsFile = (config: Config): string => join(config.dataDir, 'watcher', 'offsets.json')
