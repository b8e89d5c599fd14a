// The `notify:` section: defaults, durations, strictness, and secrets that
// may never be written inline.
import t from 'tap'
import { notifySchema } from '../../services/notifier/notifier-config.js'
import type { NotifyConfig } from '../../services/notifier/notifier-config.js'

function parse(value: unknown): NotifyConfig {
  const result = notifySchema.safeParse(value, { reportInput: true })
  if (!result.success) throw new Error(JSON.stringify(result.error.issues))
  return result.data
}

type Issue = { code: string; path: PropertyKey[]; message: string; input?: unknown; keys?: string[] }
function issues(value: unknown): Issue[] {
  const result = notifySchema.safeParse(value, { reportInput: true })
  if (result.success) throw new Error('expected issues')
  return result.error.issues as Issue[]
}
const at = (list: Issue[], path: string) => list.find((i) => i.path.join('.') === path)

const SMS = { type: 'freemobile', user: { env: 'FREEMOBILE_USER' }, pass: { file: '/etc/banledger/freemobile.pass' } }
const MAIL = { type: 'email', from: 'banledger@example.org', to: 'root@example.org', sendmail: '/usr/sbin/sendmail' }
const HOOK = { type: 'webhook', url: 'https://hooks.example.org/banledger/{jail}?ip={ip}&t={type}', secret: { file: '/etc/banledger/hook.secret' } }

t.test('absent or null: no channel, no digest', async (t) => {
  t.same(parse(undefined), { digestWindow: 0, channels: [] })
  t.same(parse(null), { digestWindow: 0, channels: [] })
  t.same(parse({}), { digestWindow: 0, channels: [] })
})

t.test('defaults of every channel type', async (t) => {
  const config = parse({ channels: { sms: SMS, mail: MAIL, hook: HOOK } })
  const common = { on: ['ban'], jails: null, retry: { initial: 10_000, max: 3_600_000 }, caFile: null, timeout: 30_000 }
  t.same(config.channels, [
    { name: 'sms', ...common, retry: { initial: 60_000, max: 3_600_000 }, type: 'freemobile', user: { env: 'FREEMOBILE_USER' }, pass: { file: '/etc/banledger/freemobile.pass' }, baseUrl: 'https://smsapi.free-mobile.fr' },
    {
      name: 'mail', ...common, type: 'email', format: 'plain', from: 'banledger@example.org', to: ['root@example.org'],
      target: '/etc/hosts.deny', transport: { kind: 'sendmail', path: '/usr/sbin/sendmail' },
    },
    { name: 'hook', ...common, type: 'webhook', url: HOOK.url, secret: { file: '/etc/banledger/hook.secret' } },
  ])
})

t.test('the documented example, durations in ms', async (t) => {
  const config = parse({
    digest_window: '30s',
    channels: {
      mail: {
        type: 'email', on: ['ban'], jails: ['ssh'], format: 'denyhosts', from: 'banledger@example.org', to: ['root@example.org'],
        target: '/etc/hosts.deny', ca_file: '/etc/ssl/extra.pem', retry: { initial: '10s', max: '1h' },
        smtp: { host: '127.0.0.1', port: 587, security: 'starttls', user: 'x', password: { file: '/etc/banledger/smtp.pass' } },
      },
      sms: { ...SMS, on: ['ban', 'unban'], base_url: 'https://127.0.0.1:8443/', timeout: '2s' },
      hook: { ...HOOK, timeout: '5s', retry: { initial: 30, max: '2h' } },
    },
  })
  t.equal(config.digestWindow, 30_000)
  const [mail, sms, hook] = config.channels
  t.match(mail, { jails: ['ssh'], format: 'denyhosts', caFile: '/etc/ssl/extra.pem' })
  t.same(mail?.type === 'email' ? mail.transport : null, {
    kind: 'smtp', host: '127.0.0.1', port: 587, security: 'starttls', user: 'x', password: { file: '/etc/banledger/smtp.pass' },
  })
  t.match(sms, { on: ['ban', 'unban'], baseUrl: 'https://127.0.0.1:8443', timeout: 2000 })
  t.match(hook, { timeout: 5000, retry: { initial: 30_000, max: 7_200_000 } })
})

t.test('SMTP port follows security; user may be a ref too', async (t) => {
  const port = (security: string) => {
    const [mail] = parse({ channels: { m: { ...MAIL, sendmail: undefined, smtp: { host: 'mail.example.org', security } } } }).channels
    return mail?.type === 'email' && mail.transport.kind === 'smtp' ? mail.transport.port : null
  }
  t.equal(port('starttls'), 587)
  t.equal(port('tls'), 465)
  t.equal(port('none'), 25)
  const [mail] = parse({ channels: { m: { ...MAIL, sendmail: undefined, smtp: { host: 'mx', user: { env: 'U' }, password: { env: 'P' } } } } }).channels
  t.match(mail, { transport: { user: { env: 'U' }, password: { env: 'P' } } })
})

t.test('an inline secret is refused, and the issue never carries it', async (t) => {
  const list = issues({
    channels: {
      sms: { ...SMS, user: '12345678', pass: 'abcdefgh' },
      hook: { ...HOOK, secret: 'hunter2' },
      mail: { ...MAIL, sendmail: undefined, smtp: { host: 'mx', user: 'x', password: 'pa55word' } },
    },
  })
  for (const path of ['channels.sms.user', 'channels.sms.pass', 'channels.hook.secret', 'channels.mail.smtp.password']) {
    t.match(at(list, path)?.message, /never written in the config: use \{ file: .* \} or \{ env: .* \}/, path)
  }
  const text = JSON.stringify(list)
  for (const secret of ['12345678', 'abcdefgh', 'hunter2', 'pa55word']) t.notMatch(text, secret, `${secret} not in the issues`)
})

t.test('a secret inside a refused object is scrubbed from the issue too', async (t) => {
  const list = issues({ channels: { sms: { ...SMS, pass: 'abcdefgh', colour: 'blue' } } })
  t.ok(list.some((i) => i.code === 'unrecognized_keys' && i.keys?.includes('colour')))
  t.notMatch(JSON.stringify(list), 'abcdefgh')
})

t.test('secret refs: one of file (absolute) or env (a name)', async (t) => {
  const list = issues({
    channels: {
      a: { ...SMS, user: { file: 'relative.pass' } },
      b: { ...SMS, user: { env: 'NOT A NAME' } },
      c: { ...SMS, user: { file: '/x', env: 'Y' } },
    },
  })
  t.match(at(list, 'channels.a.user.file')?.message, 'absolute')
  t.match(at(list, 'channels.b.user.env')?.message, 'environment variable name')
  t.match(at(list, 'channels.c.user')?.message, 'exactly one')
})

t.test('unknown keys are refused at every level', async (t) => {
  const list = issues({ digest: '1m', channels: { mail: { ...MAIL, cc: 'x@y' }, sms: { ...SMS, retry: { initial: '1m', maximum: '1h' } } } })
  const keys = list.filter((i) => i.code === 'unrecognized_keys').map((i) => `${i.path.join('.')}:${(i.keys ?? []).join(',')}`)
  t.same(keys.sort(), [':digest', 'channels.mail:cc', 'channels.sms.retry:maximum'])
})

t.test('channel names and types', async (t) => {
  const list = issues({ channels: { 'Bad Name': SMS, fax: { type: 'fax' }, nothing: 3 } })
  t.match(at(list, 'channels.Bad Name')?.message, 'expected a channel name')
  t.match(at(list, 'channels.fax.type'), { message: 'expected type: email, freemobile or webhook', input: 'fax' })
  t.match(at(list, 'channels.nothing')?.message, 'type: email, freemobile or webhook')
})

t.test('URLs: https only (http towards loopback for webhooks), no credentials, known placeholders', async (t) => {
  const bad = (channel: object) => at(issues({ channels: { c: channel } }), `channels.c.${'url' in channel ? 'url' : 'base_url'}`)?.message
  t.match(bad({ ...SMS, base_url: 'http://smsapi.free-mobile.fr' }), 'https://')
  t.match(bad({ ...SMS, base_url: 'http://127.0.0.1:8080' }), 'https://', 'TLS always for Free Mobile')
  t.match(bad({ ...SMS, base_url: 'not a url' }), 'https://')
  t.match(bad({ ...SMS, base_url: 'https://smsapi.free-mobile.fr/?user=1' }), 'query')
  t.match(bad({ ...HOOK, url: 'http://hooks.example.org/x' }), 'https://')
  t.match(bad({ ...HOOK, url: 'https://user:pw@hooks.example.org/x' }), 'credentials are never written')
  t.match(bad({ ...HOOK, url: 'https://hooks.example.org/{host}' }), 'unknown placeholder {host}')
  t.match(bad({ ...HOOK, url: 'https://hooks.example.org/x#frag' }), 'fragment')
  t.notMatch(JSON.stringify(issues({ channels: { c: { ...HOOK, url: 'https://user:pw@h.example/x' } } })), 'pw@', 'URL credentials scrubbed')
  const [local] = parse({ channels: { c: { ...HOOK, url: 'http://127.0.0.1:8080/{ip}' } } }).channels
  t.match(local, { url: 'http://127.0.0.1:8080/{ip}' })
})

t.test('durations: units, plain seconds, bounds', async (t) => {
  const [sms] = parse({ digest_window: 0, channels: { s: { ...SMS, timeout: '1.5s', retry: { initial: 5, max: '1d' } } } }).channels
  t.match(sms, { timeout: 1500, retry: { initial: 5000, max: 86_400_000 } })
  t.match(at(issues({ digest_window: '5 fortnights' }), 'digest_window')?.message, 'unknown unit')
  t.match(at(issues({ channels: { s: { ...SMS, timeout: '10m' } } }), 'channels.s.timeout')?.message, 'expected a duration from 100ms to 5m')
  t.match(at(issues({ channels: { s: { ...SMS, retry: { initial: '0s' } } } }), 'channels.s.retry.initial')?.message, 'longer than zero')
  t.match(at(issues({ channels: { s: { ...SMS, retry: { initial: '2h', max: '1h' } } } }), 'channels.s.retry.initial')?.message, 'not be longer than retry.max')
})

t.test('email cross-checks', async (t) => {
  const problem = (mail: object, path: string) => at(issues({ channels: { m: { ...MAIL, ...mail } } }), path)?.message
  t.match(problem({ smtp: { host: 'mx' } }, 'channels.m'), 'exactly one of smtp')
  t.match(problem({ sendmail: undefined }, 'channels.m'), 'exactly one of smtp')
  t.match(problem({ sendmail: undefined, smtp: { host: 'mx', user: 'x' } }, 'channels.m.smtp'), 'go together')
  t.match(problem({ sendmail: undefined, smtp: { host: 'mx.example.org', security: 'none', user: 'x', password: { env: 'P' } } }, 'channels.m.smtp.security'), 'in clear')
  t.match(problem({ format: 'denyhosts', on: ['ban', 'unban'] }, 'channels.m.on'), 'only lists added hosts')
  t.match(problem({ to: [] }, 'channels.m.to'), 'at least one')
  t.match(problem({ to: ['ok@example.org', 'Root <root@example.org>'] }, 'channels.m.to.1'), 'mail address')
  t.match(problem({ from: 'a@b\r\nBcc: x@y' }, 'channels.m.from'), 'mail address')
  t.match(problem({ to: ['-oQ/tmp@example.org'] }, 'channels.m.to.0'), 'mail address', 'no sendmail option in disguise')
  t.match(problem({ sendmail: 'sendmail' }, 'channels.m.sendmail'), 'absolute path')
  t.match(problem({ jails: ['ssh', 'Not A Jail'] }, 'channels.m.jails.1'), 'jail names')
  t.match(problem({ on: ['ban', 'kick'] }, 'channels.m.on.1'), 'ban or unban')
  const [local] = parse({ channels: { m: { ...MAIL, sendmail: undefined, smtp: { host: '127.0.0.1', security: 'none', user: 'x', password: { env: 'P' } } } } }).channels
  t.match(local, { transport: { security: 'none', port: 25 } }, 'a password in clear is fine towards loopback')
})
