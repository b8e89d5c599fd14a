// Rows keyed by jail, then by address: the ledger's projection in memory,
// and what replay builds. Each input and event looks up its row (1,000,000
// and more per replay); two Map lookups with the strings the input already
// holds (their hashes computed once) cost less than building and hashing a
// "jail/address" key string each time (measured on bench:ledger's log:
// about a quarter of replay's CPU time).
//
// An IPv4 address in canonical dotted-quad text is keyed by its 32-bit
// value (a small integer in V8: compared in place, where a string key is
// another object to load and compare), in a Map of its own; any other text
// by the string. The text is made again from the number when rows are
// listed. A table of 600,000 addresses then also holds no key strings, so
// replay's fresh address strings die young instead of being copied into
// the old generation (bench:ledger).
import { dottedQuad } from '../rules/addresses.js'
import { splitStateKey, stateKey } from './ledger-store.js'

/** The key of canonical dotted-quad IPv4 text ("192.0.2.1"; addresses.ts's
 *  dottedQuad) as a signed 32-bit integer, or null for any other text
 *  (which then keys by the string). */
export function ipv4Key(ip: string): number | null {
  const value = dottedQuad(ip)
  return value === null ? null : value | 0
}

/** ipv4Key, remembered for the last text: an event's address is looked up
 *  in several maps in a row (the batch's, the one before, the rows). */
let lastText = ''
let lastKey: number | null = null
const keyOf = (ip: string): number | null => {
  if (ip !== lastText) {
    lastKey = ipv4Key(ip)
    lastText = ip
  }
  return lastKey
}

/** The text of an ipv4Key. */
export const ipv4Text = (key: number): string => `${key >>> 24}.${(key >>> 16) & 255}.${(key >>> 8) & 255}.${key & 255}`

/** One jail's rows: IPv4 addresses by key, other texts by the string. */
class JailRows<R> {
  readonly v4 = new Map<number, R>()
  readonly other = new Map<string, R>()
  get size(): number {
    return this.v4.size + this.other.size
  }

  get(ip: string): R | undefined {
    const k = keyOf(ip)
    return k === null ? this.other.get(ip) : this.v4.get(k)
  }

  set(ip: string, row: R): void {
    const k = keyOf(ip)
    if (k === null) this.other.set(ip, row)
    else this.v4.set(k, row)
  }

  delete(ip: string): boolean {
    const k = keyOf(ip)
    return k === null ? this.other.delete(ip) : this.v4.delete(k)
  }
}

export class ProjectionMap<R> {
  readonly #jails = new Map<string, JailRows<R>>()
  #size = 0

  get size(): number {
    return this.#size
  }

  get(jail: string, ip: string): R | undefined {
    return this.#jails.get(jail)?.get(ip)
  }

  /** The row under a stored key (`jail/ip`, see stateKey). */
  getKey(key: string): R | undefined {
    const { jail, ip } = splitStateKey(key)
    return this.get(jail, ip)
  }

  set(jail: string, ip: string, row: R): void {
    const rows = this.#rowsOf(jail)
    const size = rows.size
    rows.set(ip, row)
    this.#size += rows.size - size
  }

  /** The row of (jail, ip), made by `create` when there is none. */
  upsert(jail: string, ip: string, create: () => R): R {
    const rows = this.#rowsOf(jail)
    let row = rows.get(ip)
    if (row === undefined) {
      row = create()
      rows.set(ip, row)
      this.#size++
    }
    return row
  }

  delete(jail: string, ip: string): void {
    if (this.#jails.get(jail)?.delete(ip) === true) this.#size--
  }

  /** Every row with its stored key, jail by jail: IPv4 addresses first,
   *  then the others, each in the order they were added. */
  *entries(): IterableIterator<[string, R]> {
    for (const [jail, rows] of this.#jails) {
      for (const [k, row] of rows.v4) yield [stateKey(jail, ipv4Text(k)), row]
      for (const [ip, row] of rows.other) yield [stateKey(jail, ip), row]
    }
  }

  *values(): IterableIterator<R> {
    for (const rows of this.#jails.values()) {
      yield* rows.v4.values()
      yield* rows.other.values()
    }
  }

  [Symbol.iterator](): IterableIterator<[string, R]> {
    return this.entries()
  }

  #rowsOf(jail: string): JailRows<R> {
    let rows = this.#jails.get(jail)
    if (rows === undefined) {
      rows = new JailRows()
      this.#jails.set(jail, rows)
    }
    return rows
  }
}
