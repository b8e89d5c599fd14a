// The one error the config loader throws. Codes are stable and never reused:
//   BANLEDGER_CONFIG_INVALID     the file was read but its content is wrong;
//                                `problems` lists every problem found.
//   BANLEDGER_CONFIG_UNREADABLE  the file could not be read; `cause` is the OS error.

export type ConfigErrorCode = 'BANLEDGER_CONFIG_INVALID' | 'BANLEDGER_CONFIG_UNREADABLE'

export type ConfigProblem = Readonly<{
  /** Where in the YAML, like `jails.ssh.maxretry` or `ignoreip[1]`; '' for the whole file. */
  path: string
  /** 1-based line in the file, when the problem has a place in it. */
  line?: number
  /** What is wrong and what was expected, with the bad value shown. */
  message: string
  /** The bad value as read from the YAML. */
  value?: unknown
}>

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  readonly code: ConfigErrorCode
  /** Absolute path of the configuration file. */
  readonly file: string
  /** Empty for BANLEDGER_CONFIG_UNREADABLE. */
  readonly problems: readonly ConfigProblem[]

  private constructor(code: ConfigErrorCode, file: string, message: string, problems: readonly ConfigProblem[], cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.code = code
    this.file = file
    this.problems = Object.freeze(problems.map((problem) => Object.freeze({ ...problem })))
  }

  /** `problems` must not be empty. */
  static invalid(file: string, problems: readonly ConfigProblem[]): ConfigError {
    const lines = problems.map((problem) => `  ${describeProblem(problem)}`)
    return new ConfigError('BANLEDGER_CONFIG_INVALID', file, `invalid configuration ${file}:\n${lines.join('\n')}`, problems)
  }

  static unreadable(file: string, cause: unknown): ConfigError {
    const why = cause instanceof Error ? cause.message : String(cause)
    return new ConfigError('BANLEDGER_CONFIG_UNREADABLE', file, `cannot read configuration ${file}: ${why}`, [], cause)
  }
}

/** `line 12: jails.ssh.maxretry: expected ...` (parts left out when unknown). */
export function describeProblem(problem: ConfigProblem): string {
  const where = problem.line === undefined ? '' : `line ${problem.line}: `
  const path = problem.path === '' ? '' : `${problem.path}: `
  return `${where}${path}${problem.message}`
}
