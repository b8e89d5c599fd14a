// A command line that cannot be obeyed: the message says what to change.
export class UsageError extends Error {
  readonly code = 'BANLEDGER_USAGE'
  override readonly name = 'UsageError'
}
