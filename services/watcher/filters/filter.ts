// The port between a log source and the ledger's inputs: a filter turns one
// log line into at most one match (an address, a time, maybe a user name).

/** What a filter found in a line. `ip` is canonical (see canonicalAddress);
 *  `at` is the line's own time in ms since the epoch, UTC; `user` is the
 *  attacker-controlled name the line carried, at most MAX_USER_LENGTH long. */
export type FilterMatch = Readonly<{ ip: string; at: number; user?: string }>

export interface LineFilter {
  readonly name: string
  /** The match in `line`, or null when the line does not match, has no
   *  parsable time, or its address is not a valid IP address. `line` is
   *  raw and untrusted (length already capped by the caller, may hold
   *  replacement characters or NULs); `now` is the reader's clock, used to
   *  guess the year of timestamps without one. Never throws. */
  match(line: string, now: number): FilterMatch | null
  /** A filter that carries state from line to line (a fail2ban filter's
   *  multi-line buffer, its connection cache, its date detector) makes a
   *  fresh copy for each log source with this, so that lines of two files
   *  never meet in one buffer. Stateless filters have none. */
  forSource?(): LineFilter
}

export const MAX_USER_LENGTH = 64

/** `user` cut to MAX_USER_LENGTH UTF-16 units, never leaving half a
 *  surrogate pair at the end. */
export function truncateUser(user: string): string {
  if (user.length <= MAX_USER_LENGTH) return user
  const cut = user.slice(0, MAX_USER_LENGTH)
  const last = cut.charCodeAt(MAX_USER_LENGTH - 1)
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut
}
