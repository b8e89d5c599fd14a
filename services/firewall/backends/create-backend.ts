// Picks the firewall backend: the one the config names, or with `auto` the
// best this host answers for (nftables, then ipset + iptables, then plain
// iptables), and says why, so the log tells the operator what enforces bans.
import type { BackendName, FirewallBackend } from '../backend.js'
import type { CommandRunner } from '../command-runner.js'
import { type DryRunLog, dryRunBackend } from './dry-run.js'
import { ipsetBackend } from './ipset.js'
import { iptablesBackend } from './iptables.js'
import { nftablesBackend } from './nftables.js'

export type BackendDeps = Readonly<{ run: CommandRunner; log: DryRunLog; maxelem?: number }>

function build(name: BackendName, deps: BackendDeps): FirewallBackend {
  switch (name) {
    case 'nftables':
      return nftablesBackend({ run: deps.run })
    case 'ipset':
      return ipsetBackend({
        run: deps.run,
        ...(deps.maxelem === undefined ? {} : { maxelem: deps.maxelem }),
        onWarning: msg => deps.log(msg, { backend: 'ipset' }),
      })
    case 'iptables':
      return iptablesBackend({ run: deps.run })
    case 'dry-run':
      return dryRunBackend({ log: deps.log })
    default: {
      const never: never = name
      throw new TypeError(`not a firewall backend: ${JSON.stringify(never)}`)
    }
  }
}

/** First line of a command's output, or null when it fails. */
async function answers(run: CommandRunner, cmd: string, args: readonly string[]): Promise<string | null> {
  try {
    const { stdout } = await run(cmd, args)
    return stdout.split('\n')[0]?.trim() ?? ''
  } catch {
    return null
  }
}

export async function createBackend(
  name: 'auto' | BackendName,
  deps: BackendDeps,
): Promise<{ backend: FirewallBackend; reason: string }> {
  if (name !== 'auto') return { backend: build(name, deps), reason: `${name}: named in the config` }
  const { run } = deps
  if ((await answers(run, 'nft', ['list', 'tables'])) !== null) {
    const version = (await answers(run, 'nft', ['--version'])) ?? 'nft'
    return { backend: build('nftables', deps), reason: `nftables: ${version} answered \`nft list tables\`` }
  }
  const iptables = await answers(run, 'iptables', ['-w', '-L', '-n'])
  if ((await answers(run, 'ipset', ['list', '-n'])) !== null && iptables !== null) {
    return { backend: build('ipset', deps), reason: 'ipset: nft did not answer; `ipset list -n` and `iptables -w -L -n` did' }
  }
  if (iptables !== null) {
    return { backend: build('iptables', deps), reason: 'iptables: neither nft nor ipset answered; `iptables -w -L -n` did' }
  }
  throw new Error('no firewall answered (nft, ipset, iptables): install nftables, or run as root, or choose firewall.backend: dry-run')
}
