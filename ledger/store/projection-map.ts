// Rows keyed by jail, then by address: the ledger's projection in memory,
// and what replay builds. Each input and event looks up its row (1,000,000
// and more per replay); two Map lookups with the strings the input already
// holds (their hashes computed once) cost less than building and hashing a
// "jail/address" key string each time (measured on bench:ledger's log:
// about a quarter of replay's CPU time).
import { splitStateKey, stateKey } from './ledger-store.js'

export class ProjectionMap<R> {
  readonly #jails = new Map<string, Map<string, R>>()
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

  forEach(fn: (row: R, jail: string, ip: string) => void): void {
    for (const [jail, rows] of this.#jails) for (const [ip, row] of rows) fn(row, jail, ip)
  }

  /** Every row with its stored key, jail by jail. */
  *entries(): IterableIterator<[string, R]> {
    for (const [jail, rows] of this.#jails) {
      for (const [ip, row] of rows) yield [stateKey(jail, ip), row]
    }
  }

  *values(): IterableIterator<R> {
    for (const rows of this.#jails.values()) yield* rows.values()
  }

  [Symbol.iterator](): IterableIterator<[string, R]> {
    return this.entries()
  }

  #rowsOf(jail: string): Map<string, R> {
    let rows = this.#jails.get(jail)
    if (rows === undefined) {
      rows = new Map()
      this.#jails.set(jail, rows)
    }
    return rows
  }
}
