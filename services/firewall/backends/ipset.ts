// ipset + iptables: per jail two `hash:ip` sets and one `hash:net` set of
// IPv6 /64s, with per-element timeouts, matched by one rule each in a
// `banledger` chain that INPUT jumps to (iptables for IPv4, ip6tables for
// IPv6, always with `-w`, R12).
// A batch is one `ipset -exist restore`, where both `add` (which also sets
// a present element's timeout anew) and `del` are idempotent (R13).
// ipset restore is not a transaction: a failing line leaves the lines
// before it applied. So the only failure we can foresee, a full set, is
// checked before anything runs.
import type { FirewallBackend, JailScope, KernelBan } from '../backend.js'
import type { CommandRunner } from '../command-runner.js'
import { canonicalAddress } from '../../../ledger/rules/addresses.js'
import { checkJail, checkScope, listedV6Net, planChanges, timeoutSeconds, type PlannedAdd, type PlannedBan } from './validate.js'

/** ipset names hold 31 chars: `banledger-` + jail + `-v4` (`-n6`: IPv6 /64s). */
const MAX_JAIL = 18
/** The kernel's largest ipset timeout (~24.8 days). A longer ban gets no
 *  timeout at all: the worker removes it when it ends. */
const MAX_TIMEOUT_S = 2_147_483
const CHAIN = 'banledger'
/** Not a jail's set name (no -v4/-v6): list and flush never take it for one. */
const TMP_SET = 'banledger-resize'
const FAMILIES = [{ cmd: 'iptables', v6: false }, { cmd: 'ip6tables', v6: true }] as const

/** What a set holds: IPv4 addresses, IPv6 addresses, IPv6 /64 prefixes. */
type Kind = 'v4' | 'v6' | 'n6'
const KINDS: readonly Kind[] = ['v4', 'v6', 'n6']
const kindOf = (b: PlannedBan): Kind => (b.net ? 'n6' : b.v6 ? 'v6' : 'v4')
const setName = (jail: string, kind: Kind) => `banledger-${jail}-${kind}`
const setOf = (b: PlannedBan) => setName(b.jail, kindOf(b))
const TYPE: Record<Kind, { type: string; family: string }> = {
  v4: { type: 'hash:ip', family: 'inet' },
  v6: { type: 'hash:ip', family: 'inet6' },
  n6: { type: 'hash:net', family: 'inet6' },
}

function jailOfSet(name: string): { jail: string; kind: Kind } | null {
  const m = /^banledger-(.+)-(v4|v6|n6)$/.exec(name)
  if (m === null || m[1] === undefined) return null
  try {
    return { jail: checkJail(m[1], MAX_JAIL), kind: m[2] as Kind }
  } catch {
    return null
  }
}

/** A listed member: an address, or a /64 in a `-n6` set. */
function memberText(text: string, kind: Kind): string | null {
  return kind === 'n6' ? listedV6Net(text) : canonicalAddress(text)
}

function ruleLine(s: JailScope, kind: Kind): string {
  const ports = s.ports.length === 0 ? '' : `-p ${s.protocol} -m multiport --dports ${s.ports.join(',')} `
  return `-A ${CHAIN} ${ports}-m set --match-set ${setName(s.name, kind)} src -j DROP`
}

type SetHeader = { family: string; maxelem: number; timeout: boolean }

/** `ipset list -t`: name -> header of every set. */
function parseHeaders(stdout: string): Map<string, SetHeader & { type: string; entries: number }> {
  const sets = new Map<string, SetHeader & { type: string; entries: number }>()
  for (const block of stdout.split(/\n(?=Name: )/)) {
    const name = /^Name: (\S+)/m.exec(block)?.[1]
    const type = /^Type: (\S+)/m.exec(block)?.[1] ?? ''
    const header = /^Header: (.*)$/m.exec(block)?.[1] ?? ''
    if (name === undefined) continue
    sets.set(name, {
      type,
      family: /\bfamily (\S+)/.exec(header)?.[1] ?? '',
      maxelem: Number(/\bmaxelem (\d+)/.exec(header)?.[1] ?? NaN),
      timeout: /\btimeout \d+/.test(header),
      entries: Number(/^Number of entries: (\d+)/m.exec(block)?.[1] ?? NaN),
    })
  }
  return sets
}

type SavedSet = { maxelem: number; members: Map<string, number> }

/** `ipset save`: our sets with their members and seconds left (0: none). */
function parseSave(stdout: string): Map<string, SavedSet> {
  const sets = new Map<string, SavedSet>()
  for (const line of stdout.split('\n')) {
    const create = /^create (\S+) \S+ .*\bmaxelem (\d+)/.exec(line)
    if (create?.[1] !== undefined && jailOfSet(create[1]) !== null) {
      sets.set(create[1], { maxelem: Number(create[2]), members: new Map() })
      continue
    }
    const add = /^add (\S+) (\S+)(?: .*\btimeout (\d+))?/.exec(line)
    const owner = add?.[1] === undefined ? null : jailOfSet(add[1])
    const ip = add?.[2] === undefined || owner === null ? null : memberText(add[2], owner.kind)
    if (add?.[1] === undefined || ip === null) continue
    sets.get(add[1])?.members.set(ip, Number(add[3] ?? 0))
  }
  return sets
}

export function ipsetBackend(opts: { run: CommandRunner; maxelem?: number; onWarning?: (msg: string) => void }): FirewallBackend {
  const { run } = opts
  const maxelem = opts.maxelem ?? 65536
  if (!Number.isInteger(maxelem) || maxelem < 1) throw new TypeError(`not a maxelem: ${String(maxelem)}`)
  const warn = opts.onWarning ?? (() => {})
  const restore = (script: string) => run('ipset', ['-exist', 'restore'], script)
  const createLine = (name: string, kind: Kind) =>
    `create ${name} ${TYPE[kind].type} family ${TYPE[kind].family} timeout 0 maxelem ${maxelem}`
  const saved = async () => parseSave((await run('ipset', ['save'])).stdout)

  /** Gives an existing set a new maxelem, keeping its members: fill a
   *  temporary set, swap the two (iptables keeps matching by name). */
  async function resize(name: string, kind: Kind, tmpExists: boolean): Promise<void> {
    const members = (await saved()).get(name)?.members ?? new Map<string, number>()
    if (members.size > maxelem) {
      throw new Error(`ipset set ${name} holds ${members.size} addresses, more than firewall.maxelem (${maxelem}): raise firewall.maxelem`)
    }
    const lines = tmpExists ? [`destroy ${TMP_SET}`] : []
    lines.push(createLine(TMP_SET, kind))
    for (const [ip, left] of members) lines.push(`add ${TMP_SET} ${ip} timeout ${left}`)
    lines.push(`swap ${TMP_SET} ${name}`, `destroy ${TMP_SET}`)
    await run('ipset', ['restore'], `${lines.join('\n')}\n`)
  }

  async function ensureChain(cmd: string, scopes: readonly JailScope[], kinds: readonly Kind[]): Promise<void> {
    const listed = (await run(cmd, ['-w', '-S'])).stdout.split('\n')
    const hasChain = listed.includes(`-N ${CHAIN}`)
    const rules = listed.filter(l => l.startsWith(`-A ${CHAIN} `))
    const wanted = scopes.flatMap(s => kinds.map(kind => ruleLine(s, kind)))
    const lines: string[] = []
    if (!hasChain || rules.join('\n') !== wanted.join('\n')) lines.push(`:${CHAIN} - [0:0]`, ...wanted)
    if (!listed.includes(`-A INPUT -j ${CHAIN}`)) lines.push(`-I INPUT 1 -j ${CHAIN}`)
    if (lines.length > 0) await run(`${cmd}-restore`, ['-w', '--noflush'], `*filter\n${lines.join('\n')}\nCOMMIT\n`)
  }

  async function list(): Promise<KernelBan[]> {
    const bans: KernelBan[] = []
    for (const [name, set] of await saved()) {
      const owner = jailOfSet(name)
      if (owner === null) continue
      for (const [ip, left] of set.members) bans.push({ jail: owner.jail, ip, expiresIn: left === 0 ? null : left * 1000 })
    }
    return bans
  }

  function addLine(a: PlannedAdd): string {
    const seconds = timeoutSeconds(a.timeout, MAX_TIMEOUT_S + 1)
    return `add ${setOf(a)} ${a.ip} timeout ${seconds > MAX_TIMEOUT_S ? 0 : seconds}`
  }

  /** True when every set added to stays under 90% of its maxelem even if
   *  all the adds are new, from the headers alone; deletes need no room.
   *  A missing set is not roomy: the exact path says what is wrong. */
  async function roomyEnough(adds: readonly PlannedAdd[]): Promise<boolean> {
    if (adds.length === 0) return true
    const headers = parseHeaders((await run('ipset', ['list', '-t'])).stdout)
    const added = new Map<string, number>()
    for (const a of adds) added.set(setOf(a), (added.get(setOf(a)) ?? 0) + 1)
    for (const [name, n] of added) {
      const h = headers.get(name)
      if (h === undefined || !Number.isFinite(h.entries) || h.entries + n >= 0.9 * h.maxelem) return false
    }
    return true
  }

  return {
    name: 'ipset',

    async ensure(jails) {
      const scopes = jails.map(j => checkScope(j, MAX_JAIL))
      const headers = parseHeaders((await run('ipset', ['list', '-t'])).stdout)
      const creates: string[] = []
      let staleTmp = headers.has(TMP_SET)
      for (const s of scopes) {
        for (const kind of KINDS) {
          const name = setName(s.name, kind)
          const h = headers.get(name)
          if (h === undefined) creates.push(createLine(name, kind))
          else if (h.type !== TYPE[kind].type || h.family !== TYPE[kind].family || !h.timeout) {
            throw new Error(`ipset set ${name} exists but is not a ${TYPE[kind].type} ${TYPE[kind].family} set with timeouts: destroy it`)
          } else if (h.maxelem !== maxelem) {
            await resize(name, kind, staleTmp)
            staleTmp = false
          }
        }
      }
      if (creates.length > 0) await restore(`${creates.join('\n')}\n`)
      for (const { cmd, v6 } of FAMILIES) await ensureChain(cmd, scopes, v6 ? ['v6', 'n6'] : ['v4'])
    },

    list,

    async apply(changes) {
      const plan = planChanges(changes, MAX_JAIL)
      if (plan.del.length === 0 && plan.add.length === 0) return
      if (await roomyEnough(plan.add)) {
        // Far from maxelem even if every add is new: no need to read every
        // member (`ipset save` grows with the set).
        const lines = plan.del.map(d => `del ${setOf(d)} ${d.ip}`)
        for (const a of plan.add) lines.push(addLine(a))
        await restore(`${lines.join('\n')}\n`)
        return
      }
      const sets = await saved()
      const after = new Map<string, Set<string>>()
      const members = (name: string): Set<string> => {
        let held = after.get(name)
        if (held === undefined) after.set(name, (held = new Set(sets.get(name)?.members.keys())))
        return held
      }
      const lines: string[] = []
      const grown = new Set<string>()
      for (const d of plan.del) {
        const name = setOf(d)
        if (!sets.has(name)) continue // no set, nothing to delete
        members(name).delete(d.ip)
        lines.push(`del ${name} ${d.ip}`)
      }
      for (const a of plan.add) {
        const name = setOf(a)
        if (!sets.has(name)) throw new Error(`ipset set ${name} does not exist: ensure jail ${a.jail} first; nothing was applied`)
        members(name).add(a.ip)
        grown.add(name)
        lines.push(addLine(a))
      }
      for (const [name, held] of after) {
        const max = sets.get(name)?.maxelem ?? maxelem
        if (held.size > max) {
          throw new Error(`ipset set ${name} would hold ${held.size} addresses, more than its maxelem ${max}: ` +
            `raise firewall.maxelem; nothing was applied`)
        }
        if (grown.has(name) && held.size >= 0.9 * max) {
          warn(`ipset set ${name} will hold ${held.size} of at most ${max} addresses (90% or more): ` +
            `raise firewall.maxelem before it is full, or new bans will be refused`)
        }
      }
      await restore(`${lines.join('\n')}\n`)
    },

    async flush() {
      const bans = (await list()).length
      for (const { cmd } of FAMILIES) {
        const listed = (await run(cmd, ['-w', '-S'])).stdout.split('\n')
        const lines = listed.filter(l => l === `-A INPUT -j ${CHAIN}`).map(() => `-D INPUT -j ${CHAIN}`)
        if (listed.includes(`-N ${CHAIN}`)) lines.push(`-F ${CHAIN}`, `-X ${CHAIN}`)
        if (lines.length > 0) await run(`${cmd}-restore`, ['-w', '--noflush'], `*filter\n${lines.join('\n')}\nCOMMIT\n`)
      }
      const names = (await run('ipset', ['list', '-n'])).stdout.split('\n').filter(n => n === TMP_SET || jailOfSet(n) !== null)
      if (names.length > 0) await run('ipset', ['restore'], `${names.map(n => `destroy ${n}`).join('\n')}\n`)
      return { bans }
    },
  }
}
