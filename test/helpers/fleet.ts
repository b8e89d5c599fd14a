// A fleet on one machine for tests: a config per "host" (its own folder,
// data dir, log file and host name) on a test nats-server, and what the
// dry-run firewall of a host process said it did.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ServiceProcess } from './cli.js'
import type { NatsServer } from './nats-server.js'

/** A config for `host` on `server`, in its own folder; returns paths. */
export async function hostConfig(
  root: string, host: string, server: Pick<NatsServer, 'url'>, opts: { logLevel?: string } = {},
): Promise<{ config: string; log: string }> {
  const dir = join(root, host)
  await mkdir(dir, { recursive: true })
  const config = join(dir, 'banledger.yaml')
  const log = join(dir, 'auth.log')
  await writeFile(log, '')
  await writeFile(config, `data_dir: ${join(dir, 'data')}
host: ${host}
ignore_self: false
log_level: ${opts.logLevel ?? 'debug'}
watcher: { poll_interval: 20ms }
firewall: { backend: dry-run }
bus:
  nats:
    servers: [${server.url}]
defaults: { maxretry: 3, findtime: 48h, bantime: 5d }
jails:
  ssh:
    filter: sshd
    logpath: [${log}]
    ports: [22]
`)
  return { config, log }
}

/** The dry-run firewall of `p` said it would ban `ip`. */
export const enforced = (p: ServiceProcess, ip: string): boolean =>
  p.output().split('\n').some(l => l.includes('dry-run: would ban') && l.includes(ip))

/** The dry-run firewall of `p` said it would unban `ip`. */
export const lifted = (p: ServiceProcess, ip: string): boolean =>
  p.output().split('\n').some(l => l.includes('dry-run: would unban') && l.includes(ip))
