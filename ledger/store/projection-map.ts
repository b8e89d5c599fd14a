// Rows keyed by jail, then by address: the ledger's projection in memory,
// and what replay builds. Each input and event looks up its row (1,000,000
// and more per replay); two Map lookups with the strings the input already
// holds (their hashes computed once) cost less than building and hashing a
// "jail/address" key string each time (measured on bench:ledger's log:
// about a quarter of replay's CPU time).
//
// Addresses are keyed by addresses.ts's AddressKey: canonical IPv4 text by
// its 32-bit value, in a Map of its own, any other text by the string. The
// text is made again from the number when rows are listed. A table of
// 600,000 addresses then holds no key strings, so replay's fresh address
// strings die young instead of being copied into the old generation, and
// replay, which reads stored addresses straight into keys, makes no string
// for an IPv4 address at all (bench:ledger).
import { addressKey, addressText, type AddressKey } from '../rules/addresses.js'
import { splitStateKey, stateKey } from './ledger-store.js'

/** One jail's rows: IPv4 addresses by value, other texts by the string. */
class JailRows<R> {
  readonly v4 = new Map<number, R>()
  readonly other = new Map<string, R>()
  get size(): number {
    return this.v4.size + this.other.size
  }

  get(k: AddressKey): R | undefined {
    return typeof k === 'number' ? this.v4.get(k) : this.other.get(k)
  }

  set(k: AddressKey, row: R): void {
    if (typeof k === 'number') this.v4.set(k, row)
    else this.other.set(k, row)
  }

  delete(k: AddressKey): boolean {
    return typeof k === 'number' ? this.v4.delete(k) : this.other.delete(k)
  }
}

export class ProjectionMap<R> {
  readonly #jails = new Map<string, JailRows<R>>()
  #size = 0

  get size(): number {
    return this.#size
  }

  get(jail: string, ip: string): R | undefined {
    return this.getAt(jail, addressKey(ip))
  }

  /** get by the address's key (see AddressKey). */
  getAt(jail: string, address: AddressKey): R | undefined {
    return this.#jails.get(jail)?.get(address)
  }

  /** The row under a stored key (`jail/ip`, see stateKey). */
  getKey(key: string): R | undefined {
    const { jail, ip } = splitStateKey(key)
    return this.get(jail, ip)
  }

  set(jail: string, ip: string, row: R): void {
    this.setAt(jail, addressKey(ip), row)
  }

  /** set by the address's key. */
  setAt(jail: string, address: AddressKey, row: R): void {
    const rows = this.#rowsOf(jail)
    const size = rows.size
    rows.set(address, row)
    this.#size += rows.size - size
  }

  /** The row of (jail, address), made by `create` when there is none
   *  (by the address's key: replay reads keys, not texts). */
  upsertAt(jail: string, address: AddressKey, create: () => R): R {
    const rows = this.#rowsOf(jail)
    let row = rows.get(address)
    if (row === undefined) {
      row = create()
      rows.set(address, row)
      this.#size++
    }
    return row
  }

  delete(jail: string, ip: string): void {
    this.deleteAt(jail, addressKey(ip))
  }

  /** delete by the address's key. */
  deleteAt(jail: string, address: AddressKey): void {
    if (this.#jails.get(jail)?.delete(address) === true) this.#size--
  }

  /** Every row with its stored key, jail by jail: IPv4 addresses first,
   *  then the others, each in the order they were added. */
  *entries(): IterableIterator<[string, R]> {
    for (const [jail, rows] of this.#jails) {
      for (const [k, row] of rows.v4) yield [stateKey(jail, addressText(k)), row]
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
