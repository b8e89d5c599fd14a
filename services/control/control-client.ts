// The CLI's side of the control socket.
import { connect, type Socket } from 'node:net'
import { wireTypes } from '../../proto/wire.js'
import type { ChannelStatus } from '../notifier/notifier-worker.js'
import {
  bansFromWire, channelsFromWire, entriesFromWire, reportFromWire, requestToWire, resultsFromWire, statusFromWire, type ControlCall,
} from './control-wire.js'
import { readFrame, writeFrame } from './frames.js'
import type { LedgerApi } from './ledger-api.js'

/** The service answered with an error. */
export class ControlError extends Error {
  readonly code: string
  override readonly name = 'ControlError'
  constructor(message: string, code: string) {
    super(message)
    this.code = code
  }
}

/** Resolves with a connected socket, or null when no service listens on
 *  `path`; rejects on other errors (e.g. EACCES: not root). */
export function tryConnect(path: string): Promise<Socket | null> {
  return new Promise((resolve, reject) => {
    const socket = connect(path)
    socket.once('connect', () => resolve(socket))
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.destroy()
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(null)
      else reject(new ControlError(`cannot reach the service on ${path}: ${err.message}`, 'BANLEDGER_CONTROL_UNREACHABLE'))
    })
  })
}

async function call(path: string, c: ControlCall): Promise<Record<string, unknown>> {
  const socket = await tryConnect(path)
  if (socket === null) throw new ControlError(`the service stopped answering on ${path}`, 'BANLEDGER_CONTROL_GONE')
  try {
    const pending = readFrame(socket, wireTypes.ControlResponse)
    writeFrame(socket, wireTypes.ControlRequest, requestToWire(c))
    const m = await pending
    const error = m['error']
    if (typeof error === 'string' && error !== '') throw new ControlError(error, String(m['errorCode']))
    return m
  } finally {
    socket.destroy()
  }
}

/** The LedgerApi of the service listening on `path` (one connection per call). */
export function remoteLedgerApi(path: string): LedgerApi {
  return {
    submit: async inputs => resultsFromWire(await call(path, { op: 'submit', inputs: [...inputs] })),
    bans: async at => bansFromWire(await call(path, { op: 'bans', at })),
    explain: async ip => entriesFromWire(await call(path, { op: 'explain', ip })),
    entries: async (from, limit) => entriesFromWire(await call(path, { op: 'entries', from, limit })),
    verify: async () => reportFromWire(await call(path, { op: 'verify' })),
    status: async () => statusFromWire(await call(path, { op: 'status' })),
    close: async () => {},
  }
}

/** The notifier status of the service listening on `path`. */
export async function remoteNotifyStatus(path: string): Promise<ChannelStatus[]> {
  return channelsFromWire(await call(path, { op: 'notifyStatus' }))
}
