// The parts of a syslog line after its timestamp: `<host> <program>[PID]: <message>`.
import { chomp } from './address.js'

export type SyslogParts = Readonly<{ program: string; message: string }>

// The host and the program tag are single tokens written by the logging
// daemon; the PID is optional. The message is everything after `: `.
const HEAD = /^\S+ (?<program>[^\s[\]:]+)(?:\[\d{1,10}\])?: (?<message>.*)$/s

/** The program tag and message of `rest` (a syslog line after its
 *  timestamp), or null when it does not have that shape. Trailing CR/LF
 *  are dropped. */
export function syslogParts(rest: string): SyslogParts | null {
  const groups = HEAD.exec(chomp(rest))?.groups
  if (groups === undefined) return null
  return { program: groups.program ?? '', message: groups.message ?? '' }
}
