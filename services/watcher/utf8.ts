// Cutting text at a byte bound without splitting a character.

/** The length of the first at most `max` bytes of `bytes` without a UTF-8
 *  sequence cut at their end. */
export function utf8Boundary(bytes: Uint8Array, max = bytes.length): number {
  for (let j = max - 1; j >= 0 && j >= max - 4; j--) {
    const b = bytes[j] ?? 0
    if ((b & 0xc0) === 0x80) continue // continuation byte
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1
    return j + need > max ? j : max
  }
  return max
}
