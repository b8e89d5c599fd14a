// The service's logger: pino, JSON lines on stdout. Attacker-controlled text
// goes under the one key `untrusted`, truncated; secrets are redacted.
import pino, { type Logger } from 'pino'

export const REDACT_PATHS = ['password', 'pass', 'token', 'secret', '*.password', '*.pass', '*.token', '*.secret']

export function pinoLogger(level: string): Logger {
  return pino({
    level,
    base: { svc: 'banledger' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  })
}
