// What filter-test's two threads say to each other (dated-log.ts is the
// filter's side, dating-worker.ts the other).
import type { MessagePort } from 'node:worker_threads'

/** The worker's workerData. */
export type DatingJob = Readonly<{
  path: string
  /** The filter's datepattern (null: fail2ban's default templates). */
  datepattern: string | null
  /** ms: what the filter is given as now (year guessing). */
  now: number
  /** Batches go here (received with receiveMessageOnPort). */
  port: MessagePort
  /** Int32 [POSTED, TAKEN]: batches posted and taken, for blocking waits. */
  counters: SharedArrayBuffer
}>

export const POSTED = 0
export const TAKEN = 1
/** Batches the worker may post before the filter has taken them: memory
 *  stays bounded (a batch is CHUNK_BYTES and its lines' dates) whatever the
 *  file's size. */
export const AHEAD = 16
/** Numbers per line in Batch.dates: find()'s result, matchStart, matchEnd, time. */
export const PER_LINE = 4

/** A chunk of the file's bytes and the dates of the lines that chunk ends
 *  (or, with `end`, of the lines the end of the file ends); or the reason
 *  the worker stopped. */
export type Batch =
  | { kind: 'chunk'; bytes: Uint8Array; dates: Float64Array<ArrayBuffer> }
  | { kind: 'end'; dates: Float64Array<ArrayBuffer>; used: [string, number][] }
  | { kind: 'error'; message: string; read: boolean }
