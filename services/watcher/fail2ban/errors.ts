// Errors of the fail2ban filter engine. Codes are stable and never reused.
import { CodedError } from '../../coded-error.js'

export type Fail2banErrorCode =
  /** A filter file cannot be read, parsed or resolved (INI syntax, include,
   *  interpolation, tag loop). The message names the file and the option. */
  | 'BANLEDGER_FILTER_INVALID'
  /** A (Python) regular expression cannot be translated or compiled; the
   *  message holds the pattern and the reason. */
  | 'BANLEDGER_REGEX_UNSUPPORTED'

export class Fail2banError extends CodedError<Fail2banErrorCode> {
  override readonly name = 'Fail2banError'
}

export const filterInvalid = (file: string, option: string | null, reason: string, cause?: unknown): Fail2banError =>
  new Fail2banError(
    'BANLEDGER_FILTER_INVALID',
    `${file}${option === null ? '' : ` option '${option}'`}: ${reason}`,
    cause === undefined ? undefined : { cause },
  )
