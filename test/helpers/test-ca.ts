// Throw-away certificates for TLS tests, made with the openssl CLI in a temp
// dir that the test's teardown removes: a test CA, a server certificate for
// localhost / 127.0.0.1 / ::1 signed by it, and a second, unrelated CA with
// its own server certificate (what a server "from an unknown CA" shows).
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export type TestCa = Readonly<{
  /** PEM file of the CA. */
  caFile: string
  caPem: string
  /** A server certificate and key signed by this CA. */
  cert: string
  key: string
}>

export type TestPki = Readonly<{
  dir: string
  /** The CA tests trust (through ca_file). */
  ca: TestCa
  /** An unrelated CA nobody trusts unless told to. */
  other: TestCa
}>

type Teardown = { teardown(fn: () => unknown): void }

/** Makes both CAs; the directory goes away in `t`'s teardown. */
export async function makeTestPki(t: Teardown): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'banledger-pki-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'server.ext'), [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth',
    'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1',
    '',
  ].join('\n'))
  const [ca, other] = await Promise.all([makeCa(dir, 'test'), makeCa(dir, 'other')])
  return { dir, ca, other }
}

async function makeCa(dir: string, name: string): Promise<TestCa> {
  const file = (suffix: string) => join(dir, `${name}-${suffix}`)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await run('openssl', [
    'req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2',
    '-subj', `/CN=banledger ${name} CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ])
  await run('openssl', ['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost'])
  await run('openssl', [
    'x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
    '-set_serial', String(Date.now()), '-days', '2', '-extfile', join(dir, 'server.ext'), '-out', file('server.pem'),
  ])
  const [caPem, cert, key] = await Promise.all([file('ca.pem'), file('server.pem'), file('server.key')].map((p) => readFile(p, 'utf8')))
  return { caFile: file('ca.pem'), caPem: caPem ?? '', cert: cert ?? '', key: key ?? '' }
}
