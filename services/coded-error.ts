// The base of banledger's errors that carry one of several stable codes
// (listed once in the README, never reused). Subclasses only name themselves.
export class CodedError<C extends string> extends Error {
  readonly code: C
  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}
