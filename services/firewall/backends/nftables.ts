// nftables: one table `inet banledger`, per jail two address sets and one
// interval set of IPv6 /64s, all with per-element timeouts (so an expired
// ban leaves the kernel even while the worker is down) and, in one `input`
// chain, the rules that drop their members.
// Every change is one `nft -f -` transaction.
import { canonicalAddress } from '../../../ledger/rules/addresses.js'
import type { FirewallBackend, JailScope, KernelBan } from '../backend.js'
import type { CommandRunner } from '../command-runner.js'
import { type PlannedBan, checkJail, checkScope, listedV6Net, planChanges, timeoutSeconds } from './validate.js'

const TABLE = /^[a-z][a-z0-9_]{0,31}$/
/** nft 1.0.6 reads at most 8 digits of seconds; days go further. Ten years. */
const MAX_TIMEOUT_S = 3650 * 86_400
/** Elements per `nft -f` call, so one huge batch does not make one huge parse. */
const CHUNK = 20_000

/** What a set holds: IPv4 addresses, IPv6 addresses, IPv6 /64 prefixes. */
type Kind = 'v4' | 'v6' | 'v6net'
const KINDS: readonly Kind[] = ['v4', 'v6', 'v6net']
const kindOf = (b: { v6: boolean; net: boolean }): Kind => (b.net ? 'v6net' : b.v6 ? 'v6' : 'v4')

/** nft identifiers may not start with a digit: such a jail gets a leading `_`. */
function setName(jail: string, kind: Kind): string {
  return `${/^\d/.test(jail) ? '_' : ''}${jail}_${kind}`
}

function jailOfSet(name: string): { jail: string; kind: Kind } | null {
  const m = /^(_?)(.+)_(v4|v6|v6net)$/.exec(name)
  if (m === null) return null
  const [, underscore = '', jail = '', family] = m
  const kind = family as Kind
  if (underscore === '_' && !/^\d/.test(jail)) return null
  try {
    checkJail(jail)
  } catch {
    return null
  }
  return setName(jail, kind) === name ? { jail, kind } : null
}

const SET_TYPE: Record<Kind, string> = {
  v4: 'type ipv4_addr; flags timeout;',
  v6: 'type ipv6_addr; flags timeout;',
  v6net: 'type ipv6_addr; flags interval, timeout;',
}

/** `1d2h3m4s`: nft's time format, which goes beyond 8 digits of seconds. */
function nftTime(seconds: number): string {
  const units: Array<[string, number]> = [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]]
  let rest = seconds
  let text = ''
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size)
    rest -= n * size
    if (n > 0) text += `${n}${unit}`
  }
  return text
}

/** A rule reduced to what we compare: `tcp 22,443 ip ssh_v4`. */
function ruleSignature(scope: JailScope, kind: Kind): string {
  const ports = scope.ports.length === 0 ? '-' : `${scope.protocol} ${scope.ports.join(',')}`
  return `${ports} ${kind === 'v4' ? 'ip' : 'ip6'} ${setName(scope.name, kind)}`
}

function ruleText(scope: JailScope, kind: Kind): string {
  const ports = scope.ports.length === 0 ? ''
    : scope.ports.length === 1 ? `${scope.protocol} dport ${scope.ports[0]} `
    : `${scope.protocol} dport { ${scope.ports.join(', ')} } `
  return `${ports}${kind === 'v4' ? 'ip' : 'ip6'} saddr @${setName(scope.name, kind)} counter drop`
}

/** A listed element's value: an address, or (interval sets) `{ prefix: { addr, len } }`. */
function elementText(val: unknown, kind: Kind): string | null {
  if (kind !== 'v6net') return typeof val === 'string' ? canonicalAddress(val) : null
  if (!isObject(val) || !isObject(val.prefix) || typeof val.prefix.addr !== 'string' || val.prefix.len !== 64) return null
  return listedV6Net(`${val.prefix.addr}/64`)
}

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The signature of a listed rule, or `other` for anything we did not write. */
function listedSignature(expr: unknown): string {
  if (!Array.isArray(expr)) return 'other'
  let ports = '-'
  let saddr = ''
  let drop = false
  for (const e of expr as unknown[]) {
    if (!isObject(e)) return 'other'
    if (isObject(e.match) && isObject(e.match.left) && isObject(e.match.left.payload) && e.match.op === '==') {
      const { protocol, field } = e.match.left.payload
      const right = e.match.right
      if (field === 'dport' && (protocol === 'tcp' || protocol === 'udp')) {
        const list = typeof right === 'number' ? [right] : isObject(right) && Array.isArray(right.set) ? right.set : null
        if (list === null || !list.every(p => typeof p === 'number')) return 'other'
        ports = `${protocol} ${(list as number[]).slice().sort((a, b) => a - b).join(',')}`
      } else if (field === 'saddr' && (protocol === 'ip' || protocol === 'ip6') && typeof right === 'string') {
        saddr = `${protocol} ${right.replace(/^@/, '')}`
      } else return 'other'
    } else if ('counter' in e) continue
    else if ('drop' in e) drop = true
    else return 'other'
  }
  return drop && saddr !== '' ? `${ports} ${saddr}` : 'other'
}

function objectsOf(stdout: string): Json[] {
  const parsed: unknown = JSON.parse(stdout)
  if (!isObject(parsed) || !Array.isArray(parsed.nftables)) return []
  return (parsed.nftables as unknown[]).filter(isObject)
}

/** nft's own answer for a missing table or chain (not a missing `nft` binary). */
const isAbsent = (err: unknown): boolean => err instanceof Error && /\bError: (Could not process rule: )?No such file or directory/.test(err.message)

export function nftablesBackend(opts: { run: CommandRunner; table?: string }): FirewallBackend {
  const { run } = opts
  const table = opts.table ?? 'banledger'
  if (!TABLE.test(table)) throw new TypeError(`not an nftables table name: ${JSON.stringify(table.slice(0, 40))}`)
  const nft = (script: string) => run('nft', ['-f', '-'], script)

  async function listedRules(): Promise<string[]> {
    try {
      const { stdout } = await run('nft', ['-j', 'list', 'chain', 'inet', table, 'input'])
      return objectsOf(stdout).flatMap(o => (isObject(o.rule) ? [listedSignature(o.rule.expr)] : []))
    } catch (err) {
      if (isAbsent(err)) return []
      throw err
    }
  }

  async function list(): Promise<KernelBan[]> {
    let stdout: string
    try {
      ;({ stdout } = await run('nft', ['-j', 'list', 'table', 'inet', table]))
    } catch (err) {
      if (isAbsent(err)) return []
      throw err
    }
    const bans: KernelBan[] = []
    for (const o of objectsOf(stdout)) {
      if (!isObject(o.set) || typeof o.set.name !== 'string' || !Array.isArray(o.set.elem)) continue
      const owner = jailOfSet(o.set.name)
      if (owner === null) continue
      for (const e of o.set.elem as unknown[]) {
        const elem = isObject(e) && isObject(e.elem) ? e.elem : null
        const ip = elementText(elem === null ? e : elem.val, owner.kind)
        if (ip === null) continue
        const left = elem === null ? undefined : typeof elem.expires === 'number' ? elem.expires : elem.timeout
        bans.push({ jail: owner.jail, ip, expiresIn: typeof left === 'number' ? left * 1000 : null })
      }
    }
    return bans
  }

  return {
    name: 'nftables',

    async ensure(jails) {
      const scopes = jails.map(j => checkScope(j))
      const lines = [`add table inet ${table}`]
      for (const s of scopes) {
        for (const kind of KINDS) lines.push(`add set inet ${table} ${setName(s.name, kind)} { ${SET_TYPE[kind]} }`)
      }
      lines.push(`add chain inet ${table} input { type filter hook input priority -10; policy accept; }`)
      const wanted = scopes.flatMap(s => KINDS.map(kind => ruleSignature(s, kind)))
      const listed = await listedRules()
      if (listed.join('\n') !== wanted.join('\n')) {
        // Rules are rebuilt together with the rest, in one transaction: the
        // chain is never seen empty. Set elements are never touched here.
        lines.push(`flush chain inet ${table} input`)
        for (const s of scopes) for (const kind of KINDS) lines.push(`add rule inet ${table} input ${ruleText(s, kind)}`)
      }
      await nft(`${lines.join('\n')}\n`)
    },

    list,

    async apply(changes) {
      const plan = planChanges(changes)
      // nft 1.0.6 has no `destroy element`, and deleting an absent element
      // fails the whole transaction: add it first (1 s), then delete it.
      const ops: string[][] = []
      let chunk: string[] = []
      let count = 0
      const push = (lines: string[]) => {
        chunk.push(...lines)
        if (++count % CHUNK === 0) {
          ops.push(chunk)
          chunk = []
        }
      }
      const el = (b: PlannedBan) => `element inet ${table} ${setName(b.jail, kindOf(b))} { ${b.ip}`
      for (const d of plan.del) push([`add ${el(d)} timeout 1s }`, `delete ${el(d)} }`])
      for (const a of plan.add) {
        const t = nftTime(timeoutSeconds(a.timeout, MAX_TIMEOUT_S))
        // A plain add of a present element keeps its old timeout (kernels
        // before 6.x), so a retime deletes it first; a delete makes a
        // transaction 10-15 ms slower, so new bans skip it.
        push(a.retime ? [`add ${el(a)} timeout 1s }`, `delete ${el(a)} }`, `add ${el(a)} timeout ${t} }`] : [`add ${el(a)} timeout ${t} }`])
      }
      if (chunk.length > 0) ops.push(chunk)
      for (const lines of ops) await nft(`${lines.join('\n')}\n`)
    },

    async flush() {
      const bans = (await list()).length
      try {
        await run('nft', ['delete', 'table', 'inet', table])
      } catch (err) {
        if (!isAbsent(err)) throw err
      }
      return { bans }
    },
  }
}
