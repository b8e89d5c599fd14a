// A min-heap of (due time, item): which addresses need a tick next.
// Entries are hints: a popped item is checked against its current state, and
// an item may appear more than once (the stale copies are dropped when popped).

export class DueIndex<K> {
  #times: number[] = []
  #keys: K[] = []

  get size(): number {
    return this.#times.length
  }

  push(due: number, key: K): void {
    const times = this.#times
    const keys = this.#keys
    let i = times.length
    times.push(due)
    keys.push(key)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((times[parent] as number) <= due) break
      times[i] = times[parent] as number
      keys[i] = keys[parent] as K
      i = parent
    }
    times[i] = due
    keys[i] = key
  }

  /** The earliest due time, or undefined when empty. */
  peek(): number | undefined {
    return this.#times[0]
  }

  /** Removes and returns every item due at or before `t`. */
  popDue(t: number): K[] {
    const out: K[] = []
    while (this.#times.length > 0 && (this.#times[0] as number) <= t) out.push(this.#pop())
    return out
  }

  /** Drops every entry; call `push` again for the items that still matter. */
  clear(): void {
    this.#times = []
    this.#keys = []
  }

  #pop(): K {
    const times = this.#times
    const keys = this.#keys
    const top = keys[0] as K
    const lastTime = times.pop() as number
    const lastKey = keys.pop() as K
    const n = times.length
    if (n > 0) {
      let i = 0
      while (true) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && (times[r] as number) < (times[l] as number) ? r : l
        if ((times[c] as number) >= lastTime) break
        times[i] = times[c] as number
        keys[i] = keys[c] as K
        i = c
      }
      times[i] = lastTime
      keys[i] = lastKey
    }
    return top
  }
}
