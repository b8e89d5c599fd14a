// The control socket: the running service serves the LedgerApi to the CLI
// on a Unix socket in its data dir (mode 0600: root, or the service's user).
import { chmod, rm } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { entryToWire, wireTypes } from '../../proto/wire.js'
import type { ChannelStatus } from '../notifier/notifier-worker.js'
import { bansToWire, channelsToWire, reportToWire, requestFromWire, resultsToWire, statusToWire } from './control-wire.js'
import { PeerGoneError, readFrame, writeFrame } from './frames.js'
import type { LedgerApi } from './ledger-api.js'

/** Most entries one `entries` request gets (a frame of about a megabyte). */
const ENTRIES_MAX = 5000

export type ControlServer = Readonly<{ close(): Promise<void> }>

/** Serves `api` on `path`. A stale socket file left by a crash is replaced. */
export async function serveControl(
  path: string,
  api: LedgerApi,
  onError: (err: unknown) => void,
  /** The notifier's status, when the service runs one. */
  notifyStatus: () => Promise<readonly ChannelStatus[]> = async () => [],
): Promise<ControlServer> {
  await rm(path, { force: true })
  const sockets = new Set<Socket>()
  const server: Server = createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    void handle(socket)
  })
  const handle = async (socket: Socket): Promise<void> => {
    let response: Record<string, unknown>
    try {
      const call = requestFromWire(await readFrame(socket, wireTypes.ControlRequest))
      switch (call.op) {
        case 'submit': response = { results: resultsToWire(await api.submit(call.inputs)) }; break
        case 'bans': response = { snapshot: bansToWire(await api.bans(call.at)) }; break
        case 'explain': response = { entries: (await api.explain(call.ip)).map(entryToWire) }; break
        case 'entries': response = { entries: (await api.entries(call.from, Math.min(call.limit, ENTRIES_MAX))).map(entryToWire) }; break
        case 'verify': response = { report: reportToWire(await api.verify()) }; break
        case 'notifyStatus': response = { channels: channelsToWire(await notifyStatus()) }; break
        case 'status': response = statusToWire(await api.status()); break
      }
    } catch (err) {
      if (err instanceof PeerGoneError) return
      onError(err)
      const e = err as { message?: string; code?: string }
      response = { error: e.message ?? String(err), errorCode: e.code ?? 'BANLEDGER_CONTROL_FAILED' }
    }
    if (!socket.destroyed) {
      writeFrame(socket, wireTypes.ControlResponse, response)
      socket.end()
    }
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => { server.off('error', reject); resolve() })
  })
  await chmod(path, 0o600)
  let closed: Promise<void> | null = null
  return {
    close: () => {
      closed ??= new Promise<void>(resolve => {
        server.close(() => resolve())
        for (const s of sockets) s.end()
      }).then(() => rm(path, { force: true }))
      return closed
    },
  }
}
