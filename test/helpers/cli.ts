// Runs the real `banledger` binary (built by `npm test`'s pretest) and the
// single-host service as child processes, with cleanup registered on the test.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { patience } from './patience.js'
import { tied } from './tied-child.js'
import { waitFor } from './wait-for.js'

export const BIN = new URL('../../bin/banledger.js', import.meta.url).pathname

export type CliResult = Readonly<{ code: number; stdout: string; stderr: string }>

export function cli(args: readonly string[], opts: { timeout?: number } = {}): Promise<CliResult> {
  return new Promise(resolve => {
    execFile(process.execPath, [BIN, ...args], { timeout: patience(opts.timeout ?? 30_000), maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

export async function tempDir(t: Test, prefix = 'banledger-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A config file in `dir` with one ssh jail reading `dir/auth.log`. */
export async function writeConfig(dir: string, extra = ''): Promise<{ config: string; log: string }> {
  const config = join(dir, 'banledger.yaml')
  const log = join(dir, 'auth.log')
  await writeFile(config, `data_dir: ${join(dir, 'data')}
host: test
ignore_self: false
log_level: debug
watcher: { poll_interval: 50ms }
firewall: { backend: dry-run }   # never the host's firewall in tests
defaults: { maxretry: 3, findtime: 48h, bantime: 5d }
jails:
  ssh:
    filter: sshd
    success_filter: sshd-success
    logpath: [${log}]
    ports: [22]
${extra}`)
  await writeFile(log, '', { flag: 'a' })
  return { config, log }
}

export type ServiceProcess = Readonly<{
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
}>

/** Starts `banledger run` (with `args`, e.g. --role) and waits until it says it is running. */
export async function startService(t: Test, config: string, args: readonly string[] = []): Promise<ServiceProcess> {
  const child = spawn(...tied(process.execPath, [BIN, 'run', '--config', config, ...args]), { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  t.teardown(() => { child.kill('SIGKILL') })
  await waitFor(() => out.includes('banledger running') || child.exitCode !== null, { timeout: 20_000, what: 'service start' })
  if (child.exitCode !== null) throw new Error(`service exited: ${out}`)
  return { child, output: () => out, exited }
}

/** An sshd line at time `at` (RFC 3339, as rsyslog writes it). */
export const sshdLine = (at: Date, text: string): string =>
  `${at.toISOString().replace('Z', '+00:00')} testhost sshd[4242]: ${text}\n`

export async function bansJson(config: string): Promise<{ jail: string; ip: string; until: string; reason: string }[]> {
  const r = await cli(['bans', '--json', '--config', config])
  if (r.code !== 0) throw new Error(`bans failed: ${r.stderr}`)
  return r.stdout.split('\n').filter(Boolean).map(l => JSON.parse(l) as { jail: string; ip: string; until: string; reason: string })
}
