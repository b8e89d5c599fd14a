// A real SMTP server (smtp-server) on 127.0.0.1, port 0, for the email
// channel's tests: STARTTLS or implicit TLS with a test certificate, optional
// login, and refusals on demand. Closed in the test's teardown.
import type { AddressInfo } from 'node:net'
import { SMTPServer } from 'smtp-server'

export type ReceivedMail = Readonly<{ mailFrom: string | null; rcptTo: readonly string[]; user: string | null; secure: boolean; raw: Buffer }>

export type SmtpRefusal = Readonly<{ stage: 'rcpt' | 'data'; code: number; message: string }>

export type TestSmtpServer = Readonly<{
  port: number
  mails: ReceivedMail[]
  /** The next messages are refused at `stage` with `code`, until set to null. */
  refuse(refusal: SmtpRefusal | null): void
}>

export type TestSmtpOptions = Readonly<{
  /** Certificate and key; absent: no TLS at all (STARTTLS not offered). */
  tls?: Readonly<{ key: string; cert: string }>
  /** Implicit TLS (port 465 style) rather than STARTTLS. */
  secure?: boolean
  /** Required login; absent: no login. */
  auth?: Readonly<{ user: string; pass: string }>
}>

type Teardown = { teardown(fn: () => unknown): void }

export async function startSmtpServer(t: Teardown, opts: TestSmtpOptions = {}): Promise<TestSmtpServer> {
  const mails: ReceivedMail[] = []
  let refusal: SmtpRefusal | null = null
  const refuse = (stage: SmtpRefusal['stage']) => {
    if (refusal?.stage !== stage) return null
    return Object.assign(new Error(refusal.message), { responseCode: refusal.code })
  }
  const disabledCommands = [...(opts.tls === undefined ? ['STARTTLS'] : []), ...(opts.auth === undefined ? ['AUTH'] : [])]
  const server = new SMTPServer({
    ...(opts.tls === undefined ? {} : { key: opts.tls.key, cert: opts.tls.cert }),
    secure: opts.secure === true,
    disabledCommands,
    authOptional: opts.auth === undefined,
    allowInsecureAuth: opts.tls === undefined,
    logger: false,
    closeTimeout: 1000,
    onAuth(auth, _session, callback) {
      const ok = opts.auth !== undefined && auth.username === opts.auth.user && auth.password === opts.auth.pass
      if (ok) callback(null, { user: auth.username })
      else callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }))
    },
    onRcptTo(_address, _session, callback) {
      callback(refuse('rcpt'))
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        const refused = refuse('data')
        if (refused !== null) return callback(refused)
        const from = session.envelope.mailFrom
        mails.push({
          mailFrom: from === false ? null : from.address,
          rcptTo: session.envelope.rcptTo.map((a) => a.address),
          user: typeof session.user === 'string' ? session.user : null,
          secure: session.secure,
          raw: Buffer.concat(chunks),
        })
        callback()
      })
    },
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.server.address() as AddressInfo
  return { port, mails, refuse: (r) => { refusal = r } }
}
