// Credentials of the notification channels (S4): read from a file that only
// its owner can read, or from an environment variable, never from the config
// text itself; and kept out of every string a channel returns.
//
// Error codes, stable and never reused:
//   BANLEDGER_SECRET_UNSAFE      the file is readable by group or others, or
//                                is not a regular file.
//   BANLEDGER_SECRET_MISSING     the file or the environment variable does not
//                                exist, or holds nothing.
//   BANLEDGER_SECRET_UNREADABLE  the file exists but cannot be read (EACCES...);
//                                `cause` is the OS error.
// Messages name the file or the variable, never the value.
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'

export type SecretRef = Readonly<{ file: string }> | Readonly<{ env: string }>

export type SecretErrorCode = 'BANLEDGER_SECRET_UNSAFE' | 'BANLEDGER_SECRET_MISSING' | 'BANLEDGER_SECRET_UNREADABLE'

export class SecretError extends Error {
  override readonly name = 'SecretError'
  readonly code: SecretErrorCode
  readonly ref: SecretRef
  constructor(code: SecretErrorCode, ref: SecretRef, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.code = code
    this.ref = ref
  }
}

/** A secret file larger than this is a wrong path, not a password. */
const MAX_SECRET_BYTES = 64 * 1024

/** The secret `ref` points at, without its trailing newline(s). Rejects with
 *  a SecretError. `env` is the environment captured at start-up (nothing
 *  reads `process.env` later). */
export async function readSecret(ref: SecretRef, env: Readonly<Record<string, string | undefined>>): Promise<string> {
  const value = 'file' in ref ? await readSecretFile(ref) : readSecretEnv(ref, env)
  const secret = value.replace(/[\r\n]+$/, '')
  if (secret === '') {
    const where = 'file' in ref ? ref.file : `environment variable ${ref.env}`
    throw new SecretError('BANLEDGER_SECRET_MISSING', ref, `${where} is empty: it must hold the secret`)
  }
  return secret
}

function readSecretEnv(ref: Readonly<{ env: string }>, env: Readonly<Record<string, string | undefined>>): string {
  const value = Object.hasOwn(env, ref.env) ? env[ref.env] : undefined
  if (value === undefined) {
    throw new SecretError('BANLEDGER_SECRET_MISSING', ref, `environment variable ${ref.env} is not set: it must hold the secret`)
  }
  return value
}

async function readSecretFile(ref: Readonly<{ file: string }>): Promise<string> {
  const path = ref.file
  let handle
  try {
    // O_NONBLOCK: opening a FIFO by mistake must not hang; the checks below
    // run on the opened descriptor, so the file cannot be swapped in between.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new SecretError('BANLEDGER_SECRET_MISSING', ref, `secret file ${path} does not exist`, err)
    }
    throw new SecretError('BANLEDGER_SECRET_UNREADABLE', ref, `cannot read secret file ${path}: ${code ?? String(err)}`, err)
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) {
      throw new SecretError('BANLEDGER_SECRET_UNSAFE', ref, `secret file ${path} is not a regular file`)
    }
    const mode = stat.mode & 0o777
    if ((mode & 0o077) !== 0) {
      const octal = mode.toString(8).padStart(4, '0')
      throw new SecretError('BANLEDGER_SECRET_UNSAFE', ref, `${path} is readable by group/others (mode ${octal}): chmod 600 it`)
    }
    if (stat.size > MAX_SECRET_BYTES) {
      throw new SecretError('BANLEDGER_SECRET_UNREADABLE', ref, `secret file ${path} is larger than 64 KiB: not a secret file?`)
    }
    return await handle.readFile({ encoding: 'utf8' })
  } catch (err) {
    if (err instanceof SecretError) throw err
    const code = (err as NodeJS.ErrnoException).code
    throw new SecretError('BANLEDGER_SECRET_UNREADABLE', ref, `cannot read secret file ${path}: ${code ?? String(err)}`, err)
  } finally {
    await handle.close()
  }
}

/** A function that replaces every occurrence of each secret in a text with
 *  `[redacted]`: as written, URL-encoded (encodeURIComponent, form encoding,
 *  lower-case hex) and JSON-escaped, so an error that echoes a URL or a body
 *  leaks nothing. Empty secrets are ignored. */
export function redactor(secrets: readonly string[]): (text: string) => string {
  const forms = new Set<string>()
  for (const secret of secrets) {
    if (secret === '') continue
    const encoded = encodeURIComponent(secret)
    forms.add(secret)
    forms.add(encoded)
    forms.add(encoded.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()))
    forms.add(new URLSearchParams({ s: secret }).toString().slice(2))
    forms.add(JSON.stringify(secret).slice(1, -1))
  }
  // Longest first: a secret that contains another is replaced whole.
  const ordered = [...forms].filter((form) => form !== '').sort((a, b) => b.length - a.length)
  return (text) => {
    let result = text
    for (const form of ordered) result = result.split(form).join('[redacted]')
    return result
  }
}
