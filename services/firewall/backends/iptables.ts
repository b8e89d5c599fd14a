// Plain iptables, for hosts without sets: per jail a chain `banledger-<jail>`
// that INPUT jumps to for the jail's ports, holding one `-s <ip> -j DROP`
// rule per ban (ip6tables for IPv6, also `-s <prefix>/64` for an IPv6 /64).
// No timeouts: the worker removes bans
// when they end. A batch is computed against the listed rules (so it is
// idempotent, R13) and applied in one `iptables-restore --noflush` per
// family; every call takes the xtables lock (`-w`, R12).
import { canonicalAddress } from '../../../ledger/rules/addresses.js'
import type { FirewallBackend, JailScope, KernelBan } from '../backend.js'
import type { CommandRunner } from '../command-runner.js'
import { checkJail, checkScope, listedV6Net, planChanges } from './validate.js'

/** iptables chain names hold 28 chars: `banledger-` + jail. */
const MAX_JAIL = 18
const FAMILIES = [{ cmd: 'iptables', v6: false }, { cmd: 'ip6tables', v6: true }] as const
/** Tokens of a listed rule we feed back to `-D`: what our own rules contain. */
const SAFE_TOKENS = /^[A-Za-z0-9_.,:/ -]+$/

const chainOf = (jail: string) => `banledger-${jail}`

function jailOfChain(chain: string | undefined): string | null {
  const m = /^banledger-(.+)$/.exec(chain ?? '')
  if (m?.[1] === undefined) return null
  try {
    return checkJail(m[1], MAX_JAIL)
  } catch {
    return null
  }
}

function jumpSpec(s: JailScope): string {
  const ports = s.ports.length === 0 ? '' : `-p ${s.protocol} -m multiport --dports ${s.ports.join(',')} `
  return `${ports}-j ${chainOf(s.name)}`
}

type Listing = {
  chains: Set<string>
  /** Specs (what follows `-A INPUT `) of INPUT rules jumping to our chains. */
  jumps: string[]
  /** chain -> address -> how many rules drop it. */
  bans: Map<string, Map<string, number>>
}

function parseListing(stdout: string): Listing {
  const listing: Listing = { chains: new Set(), jumps: [], bans: new Map() }
  for (const line of stdout.split('\n')) {
    const chain = /^-N (\S+)$/.exec(line)?.[1]
    if (chain !== undefined && jailOfChain(chain) !== null) listing.chains.add(chain)
    const jump = /^-A INPUT ((?:.* )?-j (\S+))$/.exec(line)
    if (jump?.[1] !== undefined && jailOfChain(jump[2]) !== null && SAFE_TOKENS.test(jump[1])) listing.jumps.push(jump[1])
    const ban = /^-A (\S+) -s ([0-9a-f.:]+)\/(32|128|64) -j DROP$/.exec(line)
    const ip = ban?.[2] === undefined ? null : ban[3] === '64' ? listedV6Net(`${ban[2]}/64`) : canonicalAddress(ban[2])
    if (ban?.[1] === undefined || ip === null || jailOfChain(ban[1]) === null) continue
    const held = listing.bans.get(ban[1]) ?? new Map<string, number>()
    listing.bans.set(ban[1], held.set(ip, (held.get(ip) ?? 0) + 1))
  }
  return listing
}

export function iptablesBackend(opts: { run: CommandRunner }): FirewallBackend {
  const { run } = opts
  const listing = async (cmd: string) => parseListing((await run(cmd, ['-w', '-S'])).stdout)
  const restore = async (cmd: string, lines: readonly string[]) => {
    if (lines.length > 0) await run(`${cmd}-restore`, ['-w', '--noflush'], `*filter\n${lines.join('\n')}\nCOMMIT\n`)
  }

  return {
    name: 'iptables',

    async ensure(jails) {
      const scopes = jails.map(j => checkScope(j, MAX_JAIL))
      const wanted = scopes.map(jumpSpec)
      for (const { cmd } of FAMILIES) {
        const current = await listing(cmd)
        const lines = scopes.filter(s => !current.chains.has(chainOf(s.name))).map(s => `-N ${chainOf(s.name)}`)
        if ([...current.jumps].sort().join('\n') !== [...wanted].sort().join('\n')) {
          // Stale jumps (ports changed, jail gone) go; all in one restore.
          lines.push(...current.jumps.map(j => `-D INPUT ${j}`), ...wanted.map(j => `-I INPUT 1 ${j}`))
        }
        await restore(cmd, lines)
      }
    },

    async list() {
      const bans: KernelBan[] = []
      for (const { cmd } of FAMILIES) {
        for (const [chain, held] of (await listing(cmd)).bans) {
          const jail = jailOfChain(chain)
          if (jail !== null) for (const ip of held.keys()) bans.push({ jail, ip, expiresIn: null })
        }
      }
      return bans
    },

    async apply(changes) {
      const plan = planChanges(changes, MAX_JAIL)
      const work: Array<{ cmd: string; lines: string[] }> = []
      for (const { cmd, v6 } of FAMILIES) {
        const del = plan.del.filter(d => d.v6 === v6)
        const add = plan.add.filter(a => a.v6 === v6)
        if (del.length === 0 && add.length === 0) continue
        const current = await listing(cmd)
        const lines: string[] = []
        for (const d of del) {
          const times = current.bans.get(chainOf(d.jail))?.get(d.ip) ?? 0
          for (let i = 0; i < times; i++) lines.push(`-D ${chainOf(d.jail)} -s ${d.ip} -j DROP`)
        }
        for (const a of add) {
          const chain = chainOf(a.jail)
          if (!current.chains.has(chain)) throw new Error(`${cmd} chain ${chain} does not exist: ensure jail ${a.jail} first; nothing was applied`)
          if (!current.bans.get(chain)?.has(a.ip)) lines.push(`-A ${chain} -s ${a.ip} -j DROP`)
        }
        work.push({ cmd, lines })
      }
      for (const { cmd, lines } of work) await restore(cmd, lines)
    },

    async flush() {
      let bans = 0
      for (const { cmd } of FAMILIES) {
        const current = await listing(cmd)
        for (const held of current.bans.values()) bans += held.size
        const lines = current.jumps.map(j => `-D INPUT ${j}`)
        for (const chain of current.chains) lines.push(`-F ${chain}`, `-X ${chain}`)
        await restore(cmd, lines)
      }
      return { bans }
    },
  }
}
