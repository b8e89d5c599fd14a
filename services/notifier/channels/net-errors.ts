// Network and TLS failures in words a sysadmin can act on. A certificate
// that does not verify is named as such, with the fix (an extra CA in
// `ca_file`), never "turn verification off": that option does not exist (S3).

/** Codes Node (OpenSSL) gives a certificate that failed verification. */
const UNTRUSTED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'INVALID_CA',
  'CERT_CHAIN_TOO_LONG',
  'PATH_LENGTH_EXCEEDED',
])
const OUT_OF_DATE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED'])
const WRONG_NAME = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH'])

export type NetFailure = Readonly<{ reason: string; tls: boolean }>

/** Describes why talking to `target` (a host or an origin, never a URL
 *  with a query) failed. Looks through nodemailer's wrapping (`originalCode`)
 *  and `cause`. */
export function describeNetError(err: unknown, target: string): NetFailure {
  const codes = errorCodes(err)
  const message = err instanceof Error ? err.message : String(err)
  const code = codes.find((c) => UNTRUSTED.has(c) || OUT_OF_DATE.has(c) || WRONG_NAME.has(c))
  if (code !== undefined) {
    const what = UNTRUSTED.has(code)
      ? `the certificate of ${target} is not signed by a trusted CA`
      : OUT_OF_DATE.has(code) ? `the certificate of ${target} is expired, not yet valid or revoked` : `the certificate of ${target} is not for that host name`
    const fix = UNTRUSTED.has(code) ? '; if you trust its CA, add it with ca_file (verification is never turned off)' : ''
    return { reason: `TLS: ${what} (${code}: ${message})${fix}`, tls: true }
  }
  const tlsCode = codes.find((c) => c.startsWith('ERR_SSL') || c.startsWith('ERR_TLS') || c === 'ETLS')
  if (tlsCode !== undefined) return { reason: `TLS handshake with ${target} failed (${tlsCode}: ${message})`, tls: true }
  const first = codes[0]
  return { reason: `cannot talk to ${target}: ${first === undefined ? message : `${first} (${message})`}`, tls: false }
}

function errorCodes(err: unknown): string[] {
  const codes: string[] = []
  let current: unknown = err
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const record = current as { code?: unknown; originalCode?: unknown; cause?: unknown }
    for (const code of [record.code, record.originalCode]) if (typeof code === 'string' && !codes.includes(code)) codes.push(code)
    current = record.cause
  }
  return codes
}
