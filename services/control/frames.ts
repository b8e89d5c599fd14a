// Length-delimited protobuf frames on a stream socket: a varint length,
// then the message. A frame larger than MAX_FRAME is refused.
import type { Socket } from 'node:net'
import type protobuf from 'protobufjs'
import { decode, WireError } from '../../proto/wire.js'

export const MAX_FRAME = 64 * 1024 * 1024

/** The peer connected and left without sending anything (e.g. a liveness probe). */
export class PeerGoneError extends Error {
  readonly code = 'BANLEDGER_CONTROL_PEER_GONE'
  override readonly name = 'PeerGoneError'
}

export function writeFrame(socket: Socket, type: protobuf.Type, message: Record<string, unknown>): void {
  socket.write(type.encodeDelimited(message).finish())
}

/** Reads one frame of `type` from `socket`; rejects on a closed socket or a bad frame. */
export function readFrame(socket: Socket, type: protobuf.Type): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0)
    const cleanup = (): void => {
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('error', onError)
    }
    const onError = (err: Error): void => { cleanup(); reject(err) }
    const onEnd = (): void => {
      cleanup()
      reject(buf.length === 0 ? new PeerGoneError('the peer closed the connection without a request') : new WireError('the peer closed the connection before a whole frame'))
    }
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk])
      let len = 0
      let shift = 0
      let i = 0
      for (; i < buf.length && i < 5; i++) {
        const b = buf[i] as number
        len += (b & 0x7f) * 2 ** shift
        shift += 7
        if ((b & 0x80) === 0) break
      }
      if (i === buf.length) return // length incomplete
      if (i === 5 || len > MAX_FRAME) { cleanup(); reject(new WireError('frame too large')); return }
      const start = i + 1
      if (buf.length < start + len) return
      cleanup()
      try {
        resolve(decode(type, buf.subarray(start, start + len)))
      } catch (err) {
        reject(err)
      }
    }
    socket.on('data', onData)
    socket.on('end', onEnd)
    socket.on('error', onError)
  })
}
