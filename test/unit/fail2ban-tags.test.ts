import t from 'tap'
import { expandTags } from '../../services/watcher/fail2ban/tags.js'
import { translatePythonRegex } from '../../services/watcher/fail2ban/python-regex.js'

const run = (regex: string, text: string, useDns = 'warn'): Record<string, string | undefined> | null => {
  const m = translatePythonRegex(expandTags(regex, { useDns }), { multiline: true }).exec(text)
  if (m === null) return null
  return Object.fromEntries(Object.entries(m.groups ?? {}).filter(([, v]) => v !== undefined))
}

t.test('given <HOST>, then IPv4, IPv6, mapped and DNS names land in their groups', async (t) => {
  t.same(run('^from <HOST>$', 'from 192.0.2.1'), { ip4: '192.0.2.1' })
  t.same(run('^from <HOST>$', 'from ::ffff:192.0.2.1'), { ip4: '192.0.2.1' })
  t.same(run('^from <HOST>$', 'from 2001:db8::1'), { ip6: '2001:db8::1' })
  t.same(run('^from <HOST>$', 'from [2001:db8::1]'), { ip6: '2001:db8::1' })
  t.same(run('^from <HOST>$', 'from host-1.example.org'), { dns: 'host-1.example.org' })
  t.equal(run('^from <HOST>$', 'from host-1.example.org', 'no'), null, 'usedns=no: addresses only')
  t.same(run('^net <SUBNET>$', 'net 198.51.100.0/24'), { ip4: '198.51.100.0', cidr: '24' })
  t.same(run('^<ADDR>/<CIDR>$', '2001:db8::/32'), { ip6: '2001:db8::', cidr: '32' })
})

t.test('given F- tags, then they become named groups', async (t) => {
  t.same(run('^user <F-USER>\\S+</F-USER> from <IP4>$', 'user bob from 192.0.2.1'), { user: 'bob', ip4: '192.0.2.1' })
  t.same(run('^<F-NOFAIL>ok</F-NOFAIL> <F-ALT_USER>\\w+</F-ALT_USER>', 'ok amy'), { nofail: 'ok', alt_user: 'amy' })
  t.same(run('^id <F-ID/> port <F-PORT/>$', 'id abc-1 port 443'), { fid: 'abc-1', fport: '443' })
  t.same(run('^<F-ID>\\d+</F-ID>$', '42'), { fid: '42' })
  t.same(run('^<F-MLFID>\\w+</F-MLFID> <F-CONTENT>.+</F-CONTENT>$', 'a1 rest of it'), { mlfid: 'a1', content: 'rest of it' })
  t.equal(expandTags('a</F-USER>b<X-UNKNOWN>'), 'a</F-USER>b<X-UNKNOWN>', 'unopened closers and unknown tags stay')
})

t.test('given <SKIPLINES>, then it spans whole lines', async (t) => {
  t.same(run('^start <HOST><SKIPLINES>end$', 'start 192.0.2.1\nnoise\nmore\nend\n'), { ip4: '192.0.2.1', skiplines0: 'noise\nmore\n' })
})
