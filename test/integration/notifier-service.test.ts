// The notifier inside the running service (R14, S1-S5): a ban from real log
// lines reaches a real SMTP server in DenyHosts format, a Free Mobile stand-in
// over HTTPS with a test CA, and a webhook with an HMAC; secrets never show
// in any log line; an unsafe secret file stops the start with a clear error.
import { createHmac } from 'node:crypto'
import { createServer as createHttpServer, type IncomingMessage } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { appendFile, chmod, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { simpleParser } from 'mailparser'
import t, { type Test } from 'tap'
import { cli, sshdLine, startService, tempDir, writeConfig } from '../helpers/cli.js'
import { startSmtpServer } from '../helpers/smtp.js'
import { makeTestPki } from '../helpers/test-ca.js'
import { waitFor } from '../helpers/wait-for.js'

const IP = '203.0.113.45'
const SECRETS = { smtp: 'smtp-S3cret-pw', fmUser: '12345678', fmPass: 'fm-P@ss%&#word', hook: 'hook-s3cret-key' }

type Hit = { url: string; headers: IncomingMessage['headers']; body: Buffer }
async function listen(t: Test, server: ReturnType<typeof createHttpServer>): Promise<number> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  return (server.address() as AddressInfo).port
}
const collect = (hits: Hit[]) => (req: IncomingMessage, res: { writeHead(s: number): { end(b?: string): void } }) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    hits.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) })
    res.writeHead(200).end('ok')
  })
}

async function secretFile(dir: string, name: string, value: string, mode = 0o600): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, `${value}\n`)
  await chmod(path, mode)
  return path
}

t.test('a ban reaches email (DenyHosts format), Free Mobile and the webhook; no secret in the logs', async t => {
  const dir = await tempDir(t)
  const pki = await makeTestPki(t)
  const smtp = await startSmtpServer(t, { tls: { key: pki.ca.key, cert: pki.ca.cert }, auth: { user: 'banledger', pass: SECRETS.smtp } })
  const sms: Hit[] = []
  const smsPort = await listen(t, createHttpsServer({ key: pki.ca.key, cert: pki.ca.cert }, collect(sms)))
  const hooks: Hit[] = []
  const hookPort = await listen(t, createHttpServer(collect(hooks)))
  const smtpPass = await secretFile(dir, 'smtp.pass', SECRETS.smtp)
  const fmPass = await secretFile(dir, 'fm.pass', SECRETS.fmPass)
  const hookSecret = await secretFile(dir, 'hook.secret', SECRETS.hook)
  const fmUser = await secretFile(dir, 'fm.user', SECRETS.fmUser)
  const { config, log } = await writeConfig(dir, `notify:
  channels:
    mail:
      type: email
      format: denyhosts
      from: banledger@example.org
      to: [root@example.org]
      smtp: { host: 127.0.0.1, port: ${smtp.port}, security: starttls, user: banledger, password: { file: ${smtpPass} } }
      ca_file: ${pki.ca.caFile}
    sms:
      type: freemobile
      on: [ban, unban]
      user: { file: ${fmUser} }
      pass: { file: ${fmPass} }
      base_url: https://127.0.0.1:${smsPort}
      ca_file: ${pki.ca.caFile}
    hook:
      type: webhook
      url: http://127.0.0.1:${hookPort}/banledger/{jail}
      secret: { file: ${hookSecret} }
`)
  const service = await startService(t, config)
  const now = Date.now()
  for (let i = 0; i < 3; i++) {
    await appendFile(log, sshdLine(new Date(now - 3000 + i * 1000), `Failed password for root from ${IP} port 4242 ssh2`))
  }
  await waitFor(() => smtp.mails.length > 0 && sms.length > 0 && hooks.length > 0, { timeout: 20_000, what: 'all three channels' })

  const mail = await simpleParser(smtp.mails[0]?.raw ?? Buffer.alloc(0))
  t.equal(mail.subject, 'DenyHosts Report')
  t.match(mail.from?.text, /^"?DenyHosts"? <banledger@example\.org>$/)
  const body = (mail.text ?? '').split('\n')
  t.equal(body[0], 'Added the following hosts to /etc/hosts.deny:')
  t.equal(body[1], '')
  t.equal(body[2], `${IP} (unknown)`)
  t.match(body.join('\n'), /\n-{70}\n?$/)

  const q = new URL(sms[0]?.url ?? '/', 'https://x').searchParams
  t.equal(q.get('user'), SECRETS.fmUser)
  t.equal(q.get('pass'), SECRETS.fmPass, 'the password arrives intact, URL-encoded on the way')
  t.match(q.get('msg'), new RegExp(`ban ${IP.replace(/\./g, '\\.')}`))

  const hook = hooks[0] as Hit
  t.equal(hook.url, '/banledger/ssh')
  const signature = createHmac('sha256', SECRETS.hook).update(hook.body).digest('hex')
  t.equal(hook.headers['x-banledger-signature'], `sha256=${signature}`)
  t.ok(hook.headers['idempotency-key'])
  t.match(JSON.parse(hook.body.toString()), { decisions: [{ type: 'ban', jail: 'ssh', ip: IP, reason: 'maxretry' }] })

  await waitFor(async () => /mail\s+email\s+0 pending, 0 failed/.test((await cli(['notify', 'status', '--config', config])).stdout),
    { timeout: 10_000, what: 'an empty outbox' })
  const status = await cli(['notify', 'status', '--config', config])
  t.match(status.stdout, /sms\s+freemobile\s+0 pending, 0 failed/)
  t.match(status.stdout, /hook\s+webhook\s+0 pending, 0 failed/)

  const test = await cli(['notify', 'test', '--channel', 'hook', '--config', config])
  t.equal(test.code, 0, test.stderr)
  t.match(test.stdout, /hook: sent a test message/)

  service.child.kill('SIGTERM')
  await service.exited
  const logs = service.output() + status.stdout + status.stderr + test.stdout + test.stderr
  for (const [name, secret] of Object.entries(SECRETS)) {
    t.notOk(logs.includes(secret) || logs.includes(encodeURIComponent(secret)), `no log line holds the ${name} secret`)
  }
})

t.test('an unsafe secret file (mode 0644) stops the start with a clear error', async t => {
  const dir = await tempDir(t)
  const hookSecret = await secretFile(dir, 'hook.secret', SECRETS.hook, 0o644)
  const { config } = await writeConfig(dir, `notify:
  channels:
    hook:
      type: webhook
      url: http://127.0.0.1:9/hook
      secret: { file: ${hookSecret} }
`)
  const r = await cli(['run', '--config', config])
  t.equal(r.code, 78)
  t.match(r.stderr, /hook\.secret is readable by group\/others \(mode 0644\)/)
  t.notOk(r.stderr.includes(SECRETS.hook))
})
