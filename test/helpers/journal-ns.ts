// A private systemd journal for tests. systemd-journald runs standalone in a
// mount and PID namespace of its own (`unshare --mount --pid`), over tmpfs
// mounted on /run/systemd, /run/log and /var/log/journal inside it, with a
// drop-in that keeps it volatile and away from the kernel log, syslog, the
// console and wall: the host's journal is never read or written. Everything
// that must see this journal runs inside with nsenter: writers (logger
// --journald), journalctl, the service under test.
//
// The namespace lives as long as its first process (a shell that waits on
// its stdin): teardown SIGKILLs it, and when this test process dies its
// stdin closes and it exits. Either way the kernel kills every process
// left in the PID namespace (journald, services, journalctl) and the
// tmpfs mounts go with the mount namespace.
//
// Needs root, unshare and nsenter (util-linux), logger with --journald
// (util-linux), journalctl and systemd-journald (systemd). Without them a
// test skips with the reason printed; with CI=true it fails instead.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { patience } from './patience.js'
import { waitFor } from './wait-for.js'

const exec = promisify(execFile)

const JOURNALD = ['/lib/systemd/systemd-journald', '/usr/lib/systemd/systemd-journald']

// The namespace's first process. `set -e`: a failed mount stops it before
// journald could touch anything real.
const SETUP = `set -e
for d in /run/systemd /run/log; do
  [ -d "$d" ] || mkdir -p "$d"
  mount -t tmpfs -o mode=0755 tmpfs "$d"
done
if [ -d /var/log/journal ]; then mount -t tmpfs -o mode=0755 tmpfs /var/log/journal; fi
mkdir -p /run/systemd/journal /run/systemd/journald.conf.d /run/log/journal
printf '[Journal]\\nStorage=volatile\\nReadKMsg=no\\nAudit=no\\nForwardToSyslog=no\\nForwardToKMsg=no\\nForwardToConsole=no\\nForwardToWall=no\\nRateLimitIntervalSec=0\\n' \\
  > /run/systemd/journald.conf.d/zz-banledger-test.conf
SYSTEMD_LOG_TARGET=console "$1" &
i=0
while [ ! -S /run/systemd/journal/socket ]; do
  i=$((i + 1))
  if [ "$i" -gt 200 ]; then echo "systemd-journald did not create its socket in 10 s" >&2; exit 1; fi
  sleep 0.05
done
echo ready
read -r _ || true
`

export type InsideProcess = Readonly<{
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
  /** The host pid of the command itself (nsenter forks it into the namespace). */
  pid: () => Promise<number>
}>

export type JournalNs = Readonly<{
  /** Runs `cmd` inside to completion; rejects on a non-zero exit. */
  exec: (cmd: string, args: readonly string[], opts?: { input?: string | Buffer; timeout?: number }) => Promise<string>
  /** Starts `cmd` inside; killed at teardown with the namespace. */
  spawn: (cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv) => InsideProcess
  /** Writes one entry with these fields (`logger --journald`, as root, or as
   *  `uid` with setpriv). A value may not hold a newline. */
  log: (fields: Readonly<Record<string, string | Buffer>>, opts?: { uid?: number }) => Promise<void>
}>

/** Null when this machine can run a private journal; else why not. */
export async function journalNsUnavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'not root: a private journal needs mount and PID namespaces (CAP_SYS_ADMIN)'
  if (!JOURNALD.some(p => existsSync(p))) return `no systemd-journald (looked at ${JOURNALD.join(', ')}; Debian package systemd)`
  for (const [cmd, args] of [['unshare', ['--version']], ['nsenter', ['--version']], ['setpriv', ['--version']], ['journalctl', ['--version']]] as const) {
    try {
      await exec(cmd, [...args])
    } catch (err) {
      return `\`${cmd} ${args.join(' ')}\` failed: ${(err as Error).message.split('\n')[0]}`
    }
  }
  const help = await exec('logger', ['--help']).then(r => r.stdout, () => '')
  if (!help.includes('--journald')) return 'logger has no --journald (util-linux logger is needed)'
  return null
}

/** A private journal for this test, or null after skipping it (printed) or,
 *  with CI=true, failing it. */
export async function journalNs(t: Test): Promise<JournalNs | null> {
  const reason = await journalNsUnavailable()
  if (reason !== null) {
    if (process.env['CI'] === 'true') t.fail(`CI must run the journal tests: ${reason}`)
    else t.plan(0, `skipped: ${reason}`)
    return null
  }
  const journald = JOURNALD.find(p => existsSync(p)) ?? ''
  const ns = spawn('unshare', ['--fork', '--pid', '--kill-child', '--mount-proc', '--mount', '--propagation', 'private', 'sh', '-c', SETUP, 'sh', journald],
    { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  ns.stdout.on('data', (d: Buffer) => { out += d.toString() })
  ns.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const gone = new Promise<void>(resolve => ns.once('exit', () => resolve()))
  const inside: ChildProcess[] = []
  let init = 0
  t.teardown(async () => {
    for (const c of inside) c.kill('SIGKILL')
    if (init > 0) process.kill(init, 'SIGKILL') // the PID namespace dies with it
    ns.kill('SIGKILL')
    ns.stdin.destroy()
    await gone
  })
  await waitFor(() => out.includes('ready') || ns.exitCode !== null, { timeout: 15_000, what: 'the private journald' })
  if (!out.includes('ready')) throw new Error(`the private journal did not start: ${out}`)
  init = await childOf(ns.pid ?? 0)

  // In the working directory of this process (nsenter would start in /).
  const enter = (cmd: string, args: readonly string[]): string[] => ['-t', String(init), '-m', '-p', `--wd=${process.cwd()}`, '--', cmd, ...args]
  const api: JournalNs = {
    exec: async (cmd, args, opts = {}) => new Promise((resolve, reject) => {
      const c = execFile('nsenter', enter(cmd, args), { timeout: patience(opts.timeout ?? 10_000), encoding: 'buffer', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`${cmd} ${args.join(' ').slice(0, 200)}: ${err.message} ${stderr.toString()}`))
        else resolve(stdout.toString())
      })
      // A command that exits without reading its input closes the pipe: its
      // exit status, not EPIPE, is the result.
      c.stdin?.on('error', () => {})
      if (opts.input === undefined) c.stdin?.end()
      else c.stdin?.end(opts.input)
    }),
    spawn: (cmd, args, env) => {
      const child = spawn('nsenter', enter(cmd, args), { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env })
      inside.push(child)
      let text = ''
      child.stdout?.on('data', (d: Buffer) => { text += d.toString() })
      child.stderr?.on('data', (d: Buffer) => { text += d.toString() })
      const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
      return { child, output: () => text, exited, pid: () => childOf(child.pid ?? 0) }
    },
    log: async (fields, opts = {}) => {
      const input = Buffer.concat(Object.entries(fields).flatMap(([k, v]) => [Buffer.from(`${k}=`), Buffer.from(v), Buffer.from('\n')]))
      const as = opts.uid === undefined ? [] : ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups']
      const [cmd, ...args] = [...as, 'logger', '--journald']
      await api.exec(cmd ?? 'logger', args, { input })
    },
  }
  return api
}

/** The (first) child of `pid`, as the host sees it. */
async function childOf(pid: number): Promise<number> {
  return waitFor(async () => {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')
    return Number(text.trim().split(/\s+/)[0] ?? 0)
  }, { timeout: 5000, what: `a child of process ${pid}` })
}
