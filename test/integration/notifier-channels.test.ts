// The notification channels against real servers on loopback (port 0): an
// SMTP server with STARTTLS and login (R14, DenyHosts' format), an HTTPS
// stand-in for Free Mobile's API (S1-S5), and a webhook receiver. TLS with
// throw-away CAs; every reason returned is checked for secrets.
import { createHmac, timingSafeEqual } from 'node:crypto'
import { chmod, readFile, writeFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import https from 'node:https'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { simpleParser } from 'mailparser'
import t, { type Test } from 'tap'
import type { Decision } from '../../ledger/rules/types.js'
import type { Channel, DeliveryResult, Notice } from '../../services/notifier/channel.js'
import { emailChannel } from '../../services/notifier/channels/email.js'
import type { EmailChannelOptions } from '../../services/notifier/channels/email.js'
import { freeMobileChannel } from '../../services/notifier/channels/freemobile.js'
import { ChannelSetupError, openChannel } from '../../services/notifier/channels/open-channel.js'
import { webhookChannel } from '../../services/notifier/channels/webhook.js'
import { notifySchema } from '../../services/notifier/notifier-config.js'
import { patience } from '../helpers/patience.js'
import { startSmtpServer } from '../helpers/smtp.js'
import { makeTestPki } from '../helpers/test-ca.js'
import type { TestCa } from '../helpers/test-ca.js'

const pki = await makeTestPki(t)
const NOW = Date.UTC(2026, 10, 21, 6, 0, 0)
const now = () => NOW
const HOUR = 3_600_000

const SMTP_PASS = 'smtp-p@ss&w%rd#+é'
const FM_USER = '12345678'
const FM_PASS = 'fm-p@ss&w%rd#+é'
const HOOK_SECRET = 'hook-s3cret&%+'
const SECRETS = [SMTP_PASS, FM_USER, FM_PASS, HOOK_SECRET]

function notice(ip: string, type: 'ban' | 'unban' = 'ban', seq = 1, jail = 'ssh'): Notice {
  const decision: Decision = {
    id: `${seq}.0`, type, jail, ip, at: NOW - 1000, until: type === 'ban' ? NOW + 5 * 24 * HOUR : 0,
    reason: type === 'ban' ? 'maxretry' : 'expired', seq, failures: type === 'ban' ? 3 : 0,
  }
  return { decision, host: 'web1' }
}
const ONE = [notice('203.0.113.7')]
const key = { idempotencyKey: 'outbox-42' }

/** Asserts that no secret, plain or URL-encoded, is in the result's reason. */
function noSecrets(t: Test, result: DeliveryResult): void {
  if (result.status === 'sent') return
  for (const secret of SECRETS) {
    t.notOk(result.reason.includes(secret) || result.reason.includes(encodeURIComponent(secret)), `no secret in "${result.reason}"`)
  }
}

function closing(t: Test, channel: Channel): Channel {
  t.teardown(() => channel.close())
  return channel
}

// -- email --------------------------------------------------------------------

function mailChannel(t: Test, port: number, over: Partial<EmailChannelOptions> = {}): Channel {
  return closing(t, emailChannel({
    name: 'mail', format: 'denyhosts', from: 'banledger@example.org', to: ['root@example.org'], now,
    transport: { kind: 'smtp', host: '127.0.0.1', port, security: 'starttls', auth: { user: 'banledger', pass: SMTP_PASS } },
    extraCa: pki.ca.caPem, timeout: patience(5000), ...over,
  }))
}

const RULE = '-'.repeat(70)

t.test('email: the DenyHosts report over STARTTLS with login', async (t) => {
  const smtp = await startSmtpServer(t, { tls: pki.ca, auth: { user: 'banledger', pass: SMTP_PASS } })
  const result = await mailChannel(t, smtp.port).deliver(ONE, key)
  t.same(result, { status: 'sent' })
  t.equal(smtp.mails.length, 1)
  const [mail] = smtp.mails
  t.match(mail, { secure: true, user: 'banledger', mailFrom: 'banledger@example.org', rcptTo: ['root@example.org'] })
  const raw = mail?.raw.toString('utf8') ?? ''
  t.match(raw, /^From: DenyHosts <banledger@example\.org>\r$/m)
  t.match(raw, /^Subject: DenyHosts Report\r$/m)
  t.match(raw, /^Message-ID: <banledger\.outbox-42@example\.org>\r$/m)
  const parsed = await simpleParser(mail?.raw ?? '')
  t.equal(parsed.subject, 'DenyHosts Report')
  t.same(parsed.from?.value, [{ name: 'DenyHosts', address: 'banledger@example.org' }])
  t.equal(parsed.date?.getTime(), NOW)
  t.same(parsed.text?.split('\n'), ['Added the following hosts to /etc/hosts.deny:', '', '203.0.113.7 (unknown)', '', RULE, ''])
})

t.test('email: a DenyHosts digest lists each new address once, bans only', async (t) => {
  const smtp = await startSmtpServer(t, { tls: pki.ca, auth: { user: 'banledger', pass: SMTP_PASS } })
  const channel = mailChannel(t, smtp.port, { target: '/etc/hosts.evil' })
  const digest = [notice('203.0.113.7'), notice('198.51.100.9', 'ban', 2), notice('192.0.2.1', 'unban', 3), notice('203.0.113.7', 'ban', 4, 'web')]
  t.same(await channel.deliver(digest, key), { status: 'sent' })
  t.equal(smtp.mails.length, 1, 'one mail')
  const parsed = await simpleParser(smtp.mails[0]?.raw ?? '')
  t.same(parsed.text?.split('\n'), [
    'Added the following hosts to /etc/hosts.evil:', '', '203.0.113.7 (unknown)', '198.51.100.9 (unknown)', '', RULE, '',
  ])
  t.same(await channel.deliver([notice('192.0.2.1', 'unban')], key), { status: 'sent' }, 'nothing to report: nothing sent')
  t.equal(smtp.mails.length, 1)
})

t.test('email: plain format, one decision and a digest, implicit TLS', async (t) => {
  const smtp = await startSmtpServer(t, { tls: pki.ca, secure: true, auth: { user: 'banledger', pass: SMTP_PASS } })
  const channel = mailChannel(t, smtp.port, {
    format: 'plain',
    transport: { kind: 'smtp', host: '127.0.0.1', port: smtp.port, security: 'tls', auth: { user: 'banledger', pass: SMTP_PASS } },
  })
  t.same(await channel.deliver(ONE, key), { status: 'sent' })
  const one = await simpleParser(smtp.mails[0]?.raw ?? '')
  t.equal(one.subject, '[banledger] ban 203.0.113.7 in ssh')
  t.same(one.from?.value, [{ name: 'banledger', address: 'banledger@example.org' }])
  for (const line of ['jail:        ssh', 'address:     203.0.113.7', 'type:        ban', 'reason:      maxretry',
    `at:          ${new Date(NOW - 1000).toISOString()}`, `until:       ${new Date(NOW + 120 * HOUR).toISOString()}`,
    'failures:    3', 'host:        web1', 'ledger seq:  1', 'decision id: 1.0']) {
    t.ok(one.text?.split('\n').includes(line), line)
  }
  t.same(await channel.deliver([notice('203.0.113.7'), notice('198.51.100.9', 'ban', 2), notice('192.0.2.1', 'unban', 3)], key), { status: 'sent' })
  const digest = await simpleParser(smtp.mails[1]?.raw ?? '')
  t.equal(digest.subject, '[banledger] 2 bans, 1 unban')
  t.match(digest.text, /until: {7}-/, 'an unban has no end')
})

t.test('email: security none towards a local relay without TLS or login', async (t) => {
  const smtp = await startSmtpServer(t)
  const channel = mailChannel(t, smtp.port, { transport: { kind: 'smtp', host: '127.0.0.1', port: smtp.port, security: 'none', auth: null } })
  t.same(await channel.deliver(ONE, key), { status: 'sent' })
  t.match(smtp.mails[0], { secure: false, user: null })
})

t.test('email: a certificate from an unknown CA is refused unless its CA is given', async (t) => {
  const smtp = await startSmtpServer(t, { tls: pki.other, auth: { user: 'banledger', pass: SMTP_PASS } })
  const refused = await mailChannel(t, smtp.port).deliver(ONE, key)
  t.match(refused, { status: 'retry', after: 0, reason: /TLS: the certificate of .* is not signed by a trusted CA.*ca_file/ })
  noSecrets(t, refused)
  t.equal(smtp.mails.length, 0)
  t.same(await mailChannel(t, smtp.port, { extraCa: pki.other.caPem }).deliver(ONE, key), { status: 'sent' })
})

t.test('email: SMTP refusals: 4xx retry, 5xx failed, bad login disabled', async (t) => {
  const smtp = await startSmtpServer(t, { tls: pki.ca, auth: { user: 'banledger', pass: SMTP_PASS } })
  const channel = mailChannel(t, smtp.port)
  smtp.refuse({ stage: 'rcpt', code: 451, message: 'try again later' })
  const later = await channel.deliver(ONE, key)
  t.match(later, { status: 'retry', after: 0, reason: /451/ })
  smtp.refuse({ stage: 'data', code: 554, message: 'spam, go away' })
  const never = await channel.deliver(ONE, key)
  t.match(never, { status: 'failed', reason: /554.*spam/ })
  smtp.refuse(null)
  const wrong = await mailChannel(t, smtp.port, {
    transport: { kind: 'smtp', host: '127.0.0.1', port: smtp.port, security: 'starttls', auth: { user: 'banledger', pass: `${SMTP_PASS}-wrong` } },
  }).deliver(ONE, key)
  t.match(wrong, { status: 'disabled', reason: /refused the login.*535/ })
  t.notMatch(wrong.status === 'sent' ? '' : wrong.reason, 'wrong', 'the wrong password is not echoed either')
  for (const result of [later, never, wrong]) noSecrets(t, result)
  t.equal(smtp.mails.length, 0)
})

t.test('email: nobody listening: retry', async (t) => {
  const port = await closedPort()
  const result = await mailChannel(t, port).deliver(ONE, key)
  t.match(result, { status: 'retry', after: 0, reason: /ECONNREFUSED/ })
})

t.test('email: sendmail', async (t) => {
  const dir = t.testdir({})
  const out = join(dir, 'out.eml')
  const script = async (name: string, body: string) => {
    const path = join(dir, name)
    await writeFile(path, `#!/bin/sh\n${body}\n`)
    await chmod(path, 0o755)
    return path
  }
  const sendmail = (path: string) => mailChannel(t, 0, { transport: { kind: 'sendmail', path } })
  const ok = await script('ok', `printf '%s\\n' "$*" > '${out}.args'; cat > '${out}'`)
  t.same(await sendmail(ok).deliver(ONE, key), { status: 'sent' })
  const parsed = await simpleParser(await readFile(out))
  t.equal(parsed.subject, 'DenyHosts Report')
  t.match(parsed.text, /^203\.0\.113\.7 \(unknown\)$/m)
  t.match(await readFile(`${out}.args`, 'utf8'), '-i -f banledger@example.org root@example.org')
  t.match(await sendmail(await script('tempfail', 'cat >/dev/null; exit 75')).deliver(ONE, key), { status: 'retry', reason: /75/ })
  t.match(await sendmail(await script('nouser', 'cat >/dev/null; exit 67')).deliver(ONE, key), { status: 'failed', reason: /67/ })
  t.match(await sendmail(join(dir, 'missing')).deliver(ONE, key), { status: 'disabled' })
})

// -- HTTPS stand-ins ------------------------------------------------------------

type Received = { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }
type Handler = (req: Received, res: ServerResponse) => void

async function startHttps(t: Test, ca: TestCa, handler: Handler): Promise<{ origin: string; received: Received[] }> {
  const received: Received[] = []
  const server = https.createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const got = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) }
      received.push(got)
      handler(got, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return { origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, received }
}

const answer = (status: number, headers: Record<string, string> = {}, body = ''): Handler => (_req, res) => {
  res.writeHead(status, headers).end(body)
}

async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** The raw query's parameters, each decoded with decodeURIComponent. */
function query(url: string): Map<string, { raw: string; value: string }> {
  const params = new Map<string, { raw: string; value: string }>()
  for (const pair of (url.split('?')[1] ?? '').split('&')) {
    const [name = '', raw = ''] = pair.split('=')
    params.set(name, { raw, value: decodeURIComponent(raw) })
  }
  return params
}

// -- Free Mobile ----------------------------------------------------------------

function smsChannel(t: Test, origin: string, over: Partial<Parameters<typeof freeMobileChannel>[0]> = {}): Channel {
  return closing(t, freeMobileChannel({ name: 'sms', user: FM_USER, pass: FM_PASS, baseUrl: origin, extraCa: pki.ca.caPem, timeout: patience(5000), ...over }))
}

t.test('Free Mobile: every parameter arrives intact, hostile text included', async (t) => {
  const api = await startHttps(t, pki.ca, answer(200))
  const hostile = '100% & #1 + é 🚫\nline2'
  t.same(await smsChannel(t, api.origin, { text: () => hostile }).deliver(ONE, key), { status: 'sent' })
  const [req] = api.received
  t.equal(req?.method, 'GET')
  t.equal(req?.url.split('?')[0], '/sendmsg')
  const params = query(req?.url ?? '')
  t.same([...params.keys()], ['user', 'pass', 'msg'])
  t.equal(params.get('user')?.value, FM_USER)
  t.equal(params.get('pass')?.value, FM_PASS)
  t.equal(params.get('msg')?.value, hostile)
  t.same(Buffer.from(params.get('msg')?.value ?? ''), Buffer.from(hostile, 'utf8'), 'byte for byte')
  t.equal(params.get('msg')?.raw, encodeURIComponent(hostile))
  t.equal(new URLSearchParams(req?.url.split('?')[1]).get('msg'), hostile, 'a form decoder agrees')
})

t.test('Free Mobile: the default text, one decision and a digest', async (t) => {
  const api = await startHttps(t, pki.ca, answer(200))
  const channel = smsChannel(t, api.origin)
  await channel.deliver(ONE, key)
  await channel.deliver([notice('203.0.113.7'), notice('198.51.100.9', 'ban', 2), notice('192.0.2.1', 'unban', 3)], key)
  const texts = api.received.map((r) => query(r.url).get('msg')?.value)
  t.same(texts, [
    'banledger (web1): ban 203.0.113.7 (ssh)',
    'banledger (web1): 2 bans, 1 unban: ban 203.0.113.7 (ssh), ban 198.51.100.9 (ssh), unban 192.0.2.1 (ssh)',
  ])
})

t.test('Free Mobile: each documented status', async (t) => {
  const cases: [number, object][] = [
    [200, { status: 'sent' }],
    [400, { status: 'failed', reason: /a parameter is missing.*a bug.*user=\[redacted\]&pass=\[redacted\]&msg=/ }],
    [402, { status: 'retry', after: 0, reason: /too many SMS/ }],
    [403, { status: 'disabled', reason: /wrong credentials or the SMS notification option is not enabled/ }],
    [500, { status: 'retry', after: 0, reason: /server error/ }],
    [503, { status: 'retry', after: 0, reason: /unexpected HTTP 503/ }],
  ]
  for (const [status, expected] of cases) {
    const api = await startHttps(t, pki.ca, answer(status))
    const result = await smsChannel(t, api.origin).deliver(ONE, key)
    t.match(result, expected, `HTTP ${status}`)
    noSecrets(t, result)
  }
})

t.test('Free Mobile: a certificate from an unknown CA is refused unless that CA is in ca_file', async (t) => {
  const api = await startHttps(t, pki.other, answer(200))
  for (const extraCa of [null, pki.ca.caPem]) {
    const result = await smsChannel(t, api.origin, { extraCa }).deliver(ONE, key)
    t.match(result, { status: 'retry', after: 0, reason: /TLS: the certificate of 127\.0\.0\.1:\d+ is not signed by a trusted CA.*ca_file/ })
    noSecrets(t, result)
  }
  t.equal(api.received.length, 0, 'nothing reached the server')
  t.same(await smsChannel(t, api.origin, { extraCa: pki.other.caPem }).deliver(ONE, key), { status: 'sent' })
})

t.test('Free Mobile: no answer, nobody listening, closed channel: retry', async (t) => {
  const silent = await startHttps(t, pki.ca, () => {})
  const slow = await smsChannel(t, silent.origin, { timeout: 200 }).deliver(ONE, key)
  t.match(slow, { status: 'retry', after: 0, reason: /no answer from 127\.0\.0\.1:\d+ within 200 ms/ })
  const refused = await smsChannel(t, `https://127.0.0.1:${await closedPort()}`).deliver(ONE, key)
  t.match(refused, { status: 'retry', reason: /ECONNREFUSED/ })
  const channel = smsChannel(t, silent.origin, { timeout: 5000 })
  const pending = channel.deliver(ONE, key)
  await channel.close()
  t.match(await pending, { status: 'retry', reason: /closing/ })
  t.match(await channel.deliver(ONE, key), { status: 'retry', reason: /closed/ })
  await channel.close()
})

t.test('a channel that throws resolves failed, redacted', async (t) => {
  const channel = smsChannel(t, 'https://127.0.0.1:9', { text: () => { throw new Error(`boom ${FM_PASS}`) } })
  const result = await channel.deliver(ONE, key)
  t.match(result, { status: 'failed', reason: 'a bug in the channel: Error: boom [redacted]' })
  noSecrets(t, result)
})

// -- webhook --------------------------------------------------------------------

t.test('webhook: signed JSON, idempotency key, URL template', async (t) => {
  const hook = await startHttps(t, pki.ca, answer(204))
  const channel = closing(t, webhookChannel({
    name: 'hook', url: `${hook.origin}/hook/{jail}/{ip}?type={type}`,
    secret: HOOK_SECRET, extraCa: pki.ca.caPem, timeout: patience(5000), now,
  }))
  const notices = [notice('2001:db8::1', 'ban', 7, 'web/api'), notice('198.51.100.9', 'unban', 8)]
  t.same(await channel.deliver(notices, key), { status: 'sent' })
  const [req] = hook.received
  t.equal(req?.method, 'POST')
  t.equal(req?.url, '/hook/web%2Fapi/2001%3Adb8%3A%3A1?type=ban')
  t.equal(req?.headers['content-type'], 'application/json')
  t.equal(req?.headers['idempotency-key'], 'outbox-42')
  const expected = Buffer.from(`sha256=${createHmac('sha256', HOOK_SECRET).update(req?.body ?? Buffer.alloc(0)).digest('hex')}`)
  const signature = Buffer.from(String(req?.headers['x-banledger-signature']))
  t.ok(signature.length === expected.length && timingSafeEqual(signature, expected), 'HMAC-SHA256 of the raw body')
  t.same(JSON.parse(req?.body.toString('utf8') ?? ''), {
    decisions: [
      { type: 'ban', jail: 'web/api', ip: '2001:db8::1', at: new Date(NOW - 1000).toISOString(), until: new Date(NOW + 120 * HOUR).toISOString(),
        reason: 'maxretry', seq: 7, failures: 3, id: '7.0' },
      { type: 'unban', jail: 'ssh', ip: '198.51.100.9', at: new Date(NOW - 1000).toISOString(), until: null, reason: 'expired', seq: 8, failures: 0, id: '8.0' },
    ],
    host: 'web1',
  })
})

t.test('webhook: answers mapped; a body echoing the secret is redacted', async (t) => {
  const cases: [number, Record<string, string>, string, object][] = [
    [500, {}, '', { status: 'retry', after: 0, reason: /HTTP 500/ }],
    [503, { 'Retry-After': '120' }, '', { status: 'retry', after: 120_000 }],
    [429, { 'Retry-After': new Date(NOW + 30_000).toUTCString() }, '', { status: 'retry', after: 30_000 }],
    [408, {}, '', { status: 'retry', after: 0 }],
    [400, {}, `bad signature for key ${HOOK_SECRET}`, { status: 'failed', reason: /HTTP 400: bad signature for key \[redacted\]/ }],
    [404, {}, '', { status: 'failed', reason: /HTTP 404/ }],
    [302, { Location: 'https://elsewhere.example/' }, '', { status: 'failed', reason: /redirects are not followed/ }],
  ]
  for (const [status, headers, body, expected] of cases) {
    const hook = await startHttps(t, pki.ca, answer(status, headers, body))
    const channel = closing(t, webhookChannel({ name: 'hook', url: `${hook.origin}/{ip}`, secret: HOOK_SECRET, extraCa: pki.ca.caPem, now }))
    const result = await channel.deliver(ONE, key)
    t.match(result, expected, `HTTP ${status}`)
    noSecrets(t, result)
  }
  const nobody = closing(t, webhookChannel({ name: 'hook', url: `https://127.0.0.1:${await closedPort()}/x`, secret: HOOK_SECRET, now }))
  t.match(await nobody.deliver(ONE, key), { status: 'retry', after: 0, reason: /ECONNREFUSED/ })
})

// -- from the config ------------------------------------------------------------

t.test('openChannel: secrets from owner-only files and the environment, ca_file', async (t) => {
  const dir = t.testdir({ 'fm.pass': `${FM_PASS}\n`, 'bad.pem': 'not a certificate\n' })
  await chmod(join(dir, 'fm.pass'), 0o600)
  const api = await startHttps(t, pki.ca, answer(200))
  const parsed = notifySchema.parse({
    channels: {
      sms: { type: 'freemobile', user: { env: 'FM_USER' }, pass: { file: join(dir, 'fm.pass') }, base_url: api.origin, ca_file: pki.ca.caFile },
      broken: { type: 'freemobile', user: { env: 'FM_USER' }, pass: { file: join(dir, 'fm.pass') }, ca_file: join(dir, 'bad.pem') },
    },
  })
  const [sms, broken] = parsed.channels
  if (sms === undefined || broken === undefined) throw new Error('two channels expected')
  const channel = closing(t, await openChannel(sms, { env: { FM_USER }, now }))
  t.same(await channel.deliver(ONE, key), { status: 'sent' })
  t.equal(query(api.received[0]?.url ?? '').get('pass')?.value, FM_PASS)
  const setup = await openChannel(broken, { env: { FM_USER }, now }).then(() => null, (err: unknown) => err)
  t.type(setup, ChannelSetupError)
  t.match(setup, { code: 'BANLEDGER_NOTIFY_CA_FILE', channel: 'broken', message: `channel broken: ca_file ${join(dir, 'bad.pem')}: the CA file holds no PEM certificate` })
  await chmod(join(dir, 'fm.pass'), 0o644)
  await t.rejects(openChannel(sms, { env: { FM_USER }, now }), { code: 'BANLEDGER_SECRET_UNSAFE' })
})
