// S4: secrets come from owner-only files or the environment, and never show
// in what a channel returns.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { readSecret, redactor, SecretError } from '../../services/notifier/secrets.js'
import type { SecretRef } from '../../services/notifier/secrets.js'

const dir = await mkdtemp(join(tmpdir(), 'banledger-secrets-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))

async function secretFile(name: string, content: string, mode: number): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, content)
  await chmod(path, mode)
  return path
}

async function refusal(ref: SecretRef, env: Record<string, string> = {}): Promise<SecretError> {
  try {
    await readSecret(ref, env)
  } catch (err) {
    if (err instanceof SecretError) return err
    throw err
  }
  throw new Error('expected a SecretError')
}

t.test('a file readable by group or others is refused, naming the path and its mode', async (t) => {
  const path = await secretFile('sms.pass', 'abcdefgh\n', 0o644)
  const err = await refusal({ file: path })
  t.equal(err.code, 'BANLEDGER_SECRET_UNSAFE')
  t.equal(err.name, 'SecretError')
  t.equal(err.message, `${path} is readable by group/others (mode 0644): chmod 600 it`)
  t.notMatch(err.message, 'abcdefgh')
  for (const mode of [0o640, 0o604, 0o660, 0o606]) {
    await chmod(path, mode)
    t.equal((await refusal({ file: path })).code, 'BANLEDGER_SECRET_UNSAFE', `mode ${mode.toString(8)}`)
  }
})

t.test('an owner-only file is read, trailing newline trimmed, inner spaces kept', async (t) => {
  t.equal(await readSecret({ file: await secretFile('a.pass', 'abc def\n', 0o600) }, {}), 'abc def')
  t.equal(await readSecret({ file: await secretFile('b.pass', 'p@ss&w%rd#+é\r\n', 0o400) }, {}), 'p@ss&w%rd#+é')
  t.equal(await readSecret({ file: await secretFile('c.pass', 'no-newline', 0o600) }, {}), 'no-newline')
})

t.test('a directory is not a secret file', async (t) => {
  const path = join(dir, 'a-dir')
  await mkdir(path, { mode: 0o700 })
  const err = await refusal({ file: path })
  t.equal(err.code, 'BANLEDGER_SECRET_UNSAFE')
  t.match(err.message, 'not a regular file')
})

t.test('an environment variable', async (t) => {
  t.equal(await readSecret({ env: 'FREEMOBILE_USER' }, { FREEMOBILE_USER: '12345678\n' }), '12345678')
})

t.test('missing file, missing or empty variable: named, never valued', async (t) => {
  const missing = await refusal({ file: join(dir, 'nope.pass') })
  t.equal(missing.code, 'BANLEDGER_SECRET_MISSING')
  t.match(missing.message, join(dir, 'nope.pass'))
  const unset = await refusal({ env: 'FREEMOBILE_PASS' }, { OTHER: 'x' })
  t.equal(unset.code, 'BANLEDGER_SECRET_MISSING')
  t.match(unset.message, 'FREEMOBILE_PASS')
  const empty = await refusal({ env: 'FREEMOBILE_PASS' }, { FREEMOBILE_PASS: '\n' })
  t.equal(empty.code, 'BANLEDGER_SECRET_MISSING')
  t.match(empty.message, 'empty')
  const emptyFile = await refusal({ file: await secretFile('empty.pass', '', 0o600) })
  t.equal(emptyFile.code, 'BANLEDGER_SECRET_MISSING')
  t.equal((await refusal({ env: 'toString' })).code, 'BANLEDGER_SECRET_MISSING', 'no prototype lookups')
})

t.test('redactor: plain, URL-encoded, form-encoded and JSON-escaped forms', async (t) => {
  const redact = redactor(['p@ss&w%rd#+é "x"', '12345678', ''])
  const secret = 'p@ss&w%rd#+é "x"'
  const url = `https://smsapi.example/sendmsg?user=12345678&pass=${encodeURIComponent(secret)}&msg=hi`
  t.equal(redact(url), 'https://smsapi.example/sendmsg?user=[redacted]&pass=[redacted]&msg=hi')
  t.equal(redact(`said: ${secret} twice ${secret}`), 'said: [redacted] twice [redacted]')
  t.equal(redact(new URLSearchParams({ pass: secret }).toString()), 'pass=[redacted]')
  t.equal(redact(encodeURIComponent(secret).toLowerCase()), '[redacted]', 'lower-case hex')
  t.equal(redact(JSON.stringify({ pass: secret })), '{"pass":"[redacted]"}')
  t.equal(redact('nothing secret here'), 'nothing secret here', 'an empty secret redacts nothing')
})

t.test('redactor: a secret inside a longer one goes whole', async (t) => {
  const redact = redactor(['abc', 'abcdef'])
  t.equal(redact('x abcdef y abc'), 'x [redacted] y [redacted]')
})
