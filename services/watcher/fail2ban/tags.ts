// fail2ban's regex tags, expanded to Python regex text (then translated by
// python-regex.ts). The groups they make are what the matcher reads:
//   ip4, ip6, dns, cidr   the address (<HOST>, <ADDR>, <IP4>, <IP6>, <DNS>, <CIDR>, <SUBNET>)
//   fid, fport            <F-ID/>, <F-PORT/> (self-closing) or <F-ID>…</F-ID>
//   user, alt_user…       <F-USER>…</F-USER>, <F-ALT_USER>… (alt_* fill `user` when it is empty)
//   nofail, mlfid, mlfforget, mlfgained, content   the other <F-NAME>…</F-NAME> tags
//   skiplines0, 1…        <SKIPLINES>: any lines between parts of a multi-line match
// The expressions are our own but match what fail2ban's match (an IPv4 may
// carry an IPv4-mapped IPv6 prefix; an IPv6 may be in brackets for <ADDR>).

const IP4 = String.raw`(?:\d{1,3}\.){3}\d{1,3}`
const IP6 = String.raw`(?:[0-9a-fA-F]{1,4}:{1,2}|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)`
const G_IP4 = String.raw`(?:::f{4,6}:)?(?P<ip4>${IP4})`
const G_IP6 = `(?P<ip6>${IP6})`
const G_DNS = String.raw`(?P<dns>[\w\-.^_]*\w)`
const G_CIDR = String.raw`(?P<cidr>\d+)`
const G_ADDR = String.raw`\[?(?:${G_IP4}|${G_IP6})\]?`
const G_SUBNET = String.raw`\[?(?:${G_IP4}|${G_IP6})(?:/${G_CIDR})?\]?`

const STATIC: Readonly<Record<string, string>> = {
  IP4: G_IP4,
  IP6: G_IP6,
  ADDR: G_ADDR,
  CIDR: G_CIDR,
  SUBNET: G_SUBNET,
  DNS: G_DNS,
  'F-IP4/': G_IP4,
  'F-IP6/': G_IP6,
  'F-ADDR/': G_ADDR,
  'F-CIDR/': G_CIDR,
  'F-SUBNET/': G_SUBNET,
  'F-DNS/': G_DNS,
  'F-ID/': String.raw`(?P<fid>\S+)`,
  'F-PORT/': String.raw`(?P<fport>\w+)`,
}

const TAG = /<\/?[\w-]+\/?>/g
const CUSTOM = /^(\/?)F-([A-Z0-9_-]+)$/
const RENAMED: Readonly<Record<string, string>> = { id: 'fid', port: 'fport' }

/** Group names that identify a failure (one of them must exist). */
export const FAILURE_ID_GROUPS = ['fid', 'ip4', 'ip6', 'dns'] as const

/** `<F-NAME>` maps to group `name` (lower case; ID and PORT to fid, fport). */
export const tagGroupName = (tag: string): string => {
  const lower = tag.toLowerCase()
  return RENAMED[lower] ?? lower
}

/** Expands the tags of `regex`. With `useDns: 'no'` (fail2ban's usedns=no)
 *  <HOST> matches addresses only. A closing </F-X> without its opening tag and
 *  unknown tags stay as they are (literal text for the regex). */
export function expandTags(regex: string, opts: { useDns?: string } = {}): string {
  const open = new Set<string>()
  let skip = 0
  return regex.replace(TAG, (tag) => {
    const name = tag.slice(1, -1)
    if (name === 'HOST') return opts.useDns === 'no' ? G_ADDR : `(?:${G_ADDR}|${G_DNS})`
    if (name === 'SKIPLINES') return String.raw`\n(?P<skiplines${skip++}>(?:[^\n]*\n)*?)`
    const fixed = STATIC[name]
    if (fixed !== undefined) return fixed
    const custom = CUSTOM.exec(name)
    if (custom === null) return tag
    const id = custom[2] ?? ''
    if (custom[1] === '/') return open.has(id) ? ')' : tag
    open.add(id)
    return `(?P<${tagGroupName(id)}>`
  })
}
