// Building blocks of the configuration schemas (zod 4): fields parsed by
// hand with messages a sysadmin understands, strict sections, durations.
// Shared by ops/config/schema.ts and the sections other modules own
// (services/notifier/notifier-config.ts).
import { z } from 'zod'
import type { Millis } from '../../ledger/rules/types.js'
import type { SecretRef } from '../../services/notifier/secrets.js'
import { formatDuration, MAX_DURATION, tryParseDuration } from './duration.js'

export type Segment = string | number
export type Report = (message: string, opts?: { path?: readonly Segment[]; input?: unknown; shown?: boolean }) => void

/** A field parsed by hand: `parse` returns the value or calls `report` (any
 *  number of times) and returns undefined. Required unless `.optional()`. */
export function field<T>(parse: (value: unknown, report: Report) => T | undefined) {
  return z.unknown().transform((value, ctx): T => {
    let failed = false
    const result = parse(value, (message, opts = {}) => {
      failed = true
      ctx.addIssue({
        code: 'custom',
        message,
        path: [...(opts.path ?? [])],
        input: 'input' in opts ? opts.input : value,
        params: { shown: opts.shown === true },
      })
    })
    return failed || result === undefined ? z.NEVER : result
  })
}

export function integer(min: number, max: number) {
  return field<number>((value, report) => {
    const n = typeof value === 'string' && /^\s*\d{1,16}\s*$/.test(value) ? Number(value) : value
    if (typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max) return n
    report(`expected an integer from ${min} to ${max}`)
    return undefined
  })
}

export function decimal(min: number, max: number) {
  return field<number>((value, report) => {
    const n = typeof value === 'string' && /^\s*\d{1,16}(\.\d{1,16})?\s*$/.test(value) ? Number(value) : value
    if (typeof n === 'number' && Number.isFinite(n) && n >= min && n <= max) return n
    report(`expected a number from ${min} to ${max}`)
    return undefined
  })
}

/** Positive unless `allowZero`; `min`/`max` narrow the accepted range. */
export function duration(opts: { min?: Millis; max?: Millis; allowZero?: boolean } = {}) {
  return field<Millis>((value, report) => {
    const result = tryParseDuration(value, { allowZero: opts.allowZero === true })
    if (!result.ok) {
      report(result.message)
      return undefined
    }
    const min = opts.min ?? 0
    const max = opts.max ?? MAX_DURATION
    if (result.ms < min || result.ms > max) {
      report(`expected a duration from ${formatDuration(min)} to ${formatDuration(max)}`)
      return undefined
    }
    return result.ms
  })
}

export const boolean = () => z.boolean({ error: 'expected true or false' })

export function text(pattern: RegExp, expected: string) {
  return field<string>((value, report) => {
    if (typeof value === 'string' && pattern.test(value)) return value
    report(`expected ${expected}`)
    return undefined
  })
}

/** A strict mapping: unknown keys are problems; `expected` names the shape. */
export function section<S extends z.core.$ZodLooseShape>(shape: S, expected: string) {
  return z.strictObject(shape, { error: (issue) => (issue.code === 'invalid_type' ? `expected ${expected}` : undefined) })
}

// At most 18 characters: ipset set names (31) and iptables chain names (28)
// must hold the jail name with banledger's prefix and suffix.
export const JAIL_NAME = /^[a-z0-9][a-z0-9_-]{0,17}$/
export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/

export const HOST_NAME_FORMS = 'a host name (letters, digits, and . _ -, at most 253 characters)'
export const JAIL_NAME_FORMS = 'lower-case letters, digits, _ and -, starting with a letter or digit, at most 18 characters'

/** A value for a message: JSON, at most 80 characters. Never throws. */
export function show(value: unknown): string {
  let text: string
  try {
    text = value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value)
  } catch {
    text = Array.isArray(value) ? '[a list that contains itself]' : '[a value that contains itself]'
  }
  return text.length > 80 ? `${text.slice(0, 79)}…` : text
}

export const SECRET_FORMS = '{ file: /path/to/file } or { env: VARIABLE }'
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/

/** `{ file }` or `{ env }`; a plain string is refused without echoing it. */
export function parseSecretRef(value: unknown, report: Report): SecretRef | undefined {
  if (typeof value === 'string' || typeof value === 'number') {
    return void report(`a secret is never written in the config: use ${SECRET_FORMS}`, { input: '[redacted]', shown: true })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return void report(`expected ${SECRET_FORMS}`)
  const keys = Object.keys(value)
  const entries = value as Record<string, unknown>
  if (keys.length === 1 && keys[0] === 'file') {
    const file = entries['file']
    if (typeof file === 'string' && file.startsWith('/') && !file.includes('\0')) return { file }
    return void report('expected an absolute file path', { path: ['file'], input: file })
  }
  if (keys.length === 1 && keys[0] === 'env') {
    const env = entries['env']
    if (typeof env === 'string' && ENV_NAME.test(env)) return { env }
    return void report('expected an environment variable name (letters, digits and _)', { path: ['env'], input: env })
  }
  return void report(`expected ${SECRET_FORMS}, exactly one of them`, { input: keys })
}

/** A credential: `{ file: /abs/path }` or `{ env: NAME }`, never the value itself. */
export const secretRef = () => field<SecretRef>(parseSecretRef)

export function absolutePath(what = 'an absolute file path') {
  return field<string>((value, report) => {
    if (typeof value !== 'string' || !value.startsWith('/') || value.includes('\0') || value.length > 4096) {
      return void report(`expected ${what}`)
    }
    return value
  })
}

/** A value or a list of values, each checked by `item`; at least one; duplicates dropped. */
export function list<T>(item: (value: unknown) => T | undefined, expected: string) {
  return field<T[]>((value, report) => {
    const items: unknown[] = Array.isArray(value) ? value : [value]
    if (items.length === 0) return void report(`expected ${expected}, at least one`)
    const out: T[] = []
    items.forEach((raw, index) => {
      const parsed = item(raw)
      if (parsed === undefined) report(`expected ${expected}`, Array.isArray(value) ? { path: [index], input: raw } : {})
      else if (!out.includes(parsed)) out.push(parsed)
    })
    return out
  })
}
