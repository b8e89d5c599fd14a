// A seeded generator of realistic OpenSSH auth.log text: failed passwords,
// invalid users, PAM failures, refused publickeys, successes, preauth
// disconnects and unrelated noise (cron, sudo, systemd), IPv4 and IPv6,
// syslog timestamps one line apart. Same seed, same file.
//   node dist/test/bench/auth-log-generator.js LINES SEED > auth.log

/** mulberry32: a small, fast, seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const USERS = ['root', 'admin', 'test', 'oracle', 'ubuntu', 'pi', 'git', 'postgres', 'user', 'guest', 'ftp', 'www']

function stamp(ms: number): string {
  const d = new Date(ms)
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** `count` lines starting at `start` (ms, local time), from `seed`. */
export function* authLog(count: number, seed: number, start = Date.UTC(2026, 10, 2, 8, 0, 0)): Generator<string> {
  const rand = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
  const attackers = Array.from({ length: 5000 }, (_, i) => (i % 5 === 4
    ? `2001:db8:${(i * 7919 % 65536).toString(16)}::${(i % 4096).toString(16)}`
    : `${[192, 198, 203][i % 3]}.${[0, 51, 0][i % 3]}.${[2, 100, 113][i % 3]}.${i % 254 + 1}`))
  let t = start
  for (let i = 0; i < count; i++) {
    t += Math.floor(rand() * 1500)
    const host = 'web1'
    const pid = 1000 + Math.floor(rand() * 60000)
    const ip = pick(attackers)
    const port = 1024 + Math.floor(rand() * 64000)
    const user = pick(USERS)
    const r = rand()
    const head = `${stamp(t)} ${host} sshd[${pid}]: `
    if (r < 0.30) yield `${head}Failed password for ${user} from ${ip} port ${port} ssh2`
    else if (r < 0.45) yield `${head}Failed password for invalid user ${user} from ${ip} port ${port} ssh2`
    else if (r < 0.55) yield `${head}Invalid user ${user} from ${ip} port ${port}`
    else if (r < 0.62) yield `${head}pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=${ip}  user=${user}`
    else if (r < 0.67) yield `${head}Connection closed by authenticating user ${user} ${ip} port ${port} [preauth]`
    else if (r < 0.72) yield `${head}Disconnected from invalid user ${user} ${ip} port ${port} [preauth]`
    else if (r < 0.76) yield `${head}Accepted publickey for ${user} from ${ip} port ${port} ssh2: ED25519 SHA256:${Math.floor(rand() * 1e12).toString(36)}`
    else if (r < 0.80) yield `${head}Received disconnect from ${ip} port ${port}:11: Bye Bye [preauth]`
    else if (r < 0.86) yield `${stamp(t)} ${host} CRON[${pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)`
    else if (r < 0.90) yield `${stamp(t)} ${host} sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update`
    else if (r < 0.95) yield `${stamp(t)} ${host} systemd-logind[${pid}]: New session ${i} of user alice.`
    else yield `${head}error: maximum authentication attempts exceeded for ${user} from ${ip} port ${port} ssh2 [preauth]`
  }
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '-')) {
  const lines = Number(process.argv[2] ?? 1_000_000)
  const seed = Number(process.argv[3] ?? 42)
  let chunk: string[] = []
  for (const line of authLog(lines, seed)) {
    chunk.push(line)
    if (chunk.length === 10_000) {
      process.stdout.write(`${chunk.join('\n')}\n`)
      chunk = []
    }
  }
  if (chunk.length > 0) process.stdout.write(`${chunk.join('\n')}\n`)
}
