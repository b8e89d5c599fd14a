// Reads banledger.yaml once, at start-up, into a typed and deep-frozen Config.
// Every problem in the file is collected and thrown together in one
// ConfigError, each with its YAML path and line. Nothing here reads
// process.env; the host name default comes in as an argument.
import { NOTIFY_KNOWN_KEYS } from '../../services/notifier/notifier-config.js'
import { NATS_KNOWN_KEYS } from '../../services/bus/bus-config.js'
import { open } from 'node:fs/promises'
import { hostname as osHostname } from 'node:os'
import { dirname, resolve } from 'node:path'
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml'
import type { Document, Node as YamlNode } from 'yaml'
import type { z } from 'zod'
import type { BantimeIncrement, JailPolicy, Millis } from '../../ledger/rules/types.js'
import { ConfigError } from './config-error.js'
import type { ConfigProblem } from './config-error.js'
import { formatDuration } from './duration.js'
import {
  HOST_NAME,
  HOST_NAME_FORMS,
  JAIL_NAME,
  JAIL_NAME_FORMS,
  jailSchema,
  KNOWN_KEYS,
  policySchema,
  show,
  topSchema,
} from './schema.js'
import type { JailSection, PolicySection } from './schema.js'
import type { Config, JailConfig } from './types.js'

/** Larger files are refused: a configuration is a few kilobytes. */
export const MAX_CONFIG_BYTES = 1024 * 1024

const HOUR = 3_600_000
const DAY = 24 * HOUR

/** Used when neither the jail nor `defaults:` sets a key (seed 002: R1, R2). */
export const BUILT_IN_POLICY = Object.freeze({
  maxretry: 3,
  findtime: 48 * HOUR,
  bantime: 5 * DAY,
  graceMaxFailures: 10,
  successLiftsBan: true,
})

export const DEFAULT_DATA_DIR = '/var/lib/banledger'
/** Where fail2ban's filters live when fail2ban is installed. */
export const DEFAULT_FILTER_DIR = '/etc/fail2ban/filter.d'
export const DEFAULT_IGNOREIP: readonly string[] = Object.freeze(['127.0.0.1/8', '::1'])
export const DEFAULT_MAX_LINE_BYTES = 8192
export const DEFAULT_POLL_INTERVAL: Millis = 250
export const DEFAULT_CHECK_INTERVAL: Millis = 60_000
export const DEFAULT_MAXELEM = 65_536
/** How far ahead of the ledger's clock a watcher's clock is trusted. */
export const DEFAULT_MAX_CLOCK_SKEW: Millis = 5 * 60_000

type Segment = string | number

/** Reads and parses the file at `path`. Rejects with a ConfigError:
 *  BANLEDGER_CONFIG_UNREADABLE when the file cannot be read,
 *  BANLEDGER_CONFIG_INVALID when its content is wrong. */
export async function loadConfig(path: string, opts: { hostname?: string } = {}): Promise<Config> {
  const file = resolve(path)
  let bytes: Buffer
  try {
    const handle = await open(file, 'r')
    try {
      const stat = await handle.stat()
      if (!stat.isFile()) throw new Error('not a regular file')
      if (stat.size > MAX_CONFIG_BYTES) {
        throw ConfigError.invalid(file, [{ path: '', message: `the file is ${stat.size} bytes; at most ${MAX_CONFIG_BYTES} are read` }])
      }
      bytes = await handle.readFile()
    } finally {
      await handle.close()
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw ConfigError.unreadable(file, err)
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw ConfigError.invalid(file, [{ path: '', message: 'the file is not UTF-8 text' }])
  }
  return parseConfig(text, file, { hostname: opts.hostname ?? osHostname() })
}

/** The pure part of loadConfig: `text` is the file's content, `path` its
 *  name (relative paths in it resolve against its folder). Throws a
 *  ConfigError (BANLEDGER_CONFIG_INVALID) listing every problem. */
export function parseConfig(text: string, path: string, opts: { hostname: string }): Config {
  const file = resolve(path)
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, logLevel: 'error' })
  const problems = new Problems((segments) => lineOf(doc, lineCounter, segments))
  for (const error of [...doc.errors, ...doc.warnings]) {
    const message = error.code === 'MULTIPLE_DOCS'
      ? 'the file holds several YAML documents (separated by ---); write only one'
      : error.message
    problems.push({ path: '', line: lineCounter.linePos(error.pos[0]).line, message: `YAML: ${message}` })
  }
  // The tree of a document with syntax errors cannot be trusted: report those alone.
  if (!problems.empty) throw ConfigError.invalid(file, problems.sorted())

  let raw: unknown
  try {
    raw = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    throw ConfigError.invalid(file, [{ path: '', message: `YAML: ${err instanceof Error ? err.message : String(err)}` }])
  }
  if (raw === null || raw === undefined) {
    throw ConfigError.invalid(file, [{ path: '', message: 'the file is empty; expected at least a jails: section' }])
  }

  const top = problems.parse(topSchema, raw, [])
  if (!isRecord(raw)) throw ConfigError.invalid(file, problems.sorted())
  const rawTop = raw
  const defaults = problems.parse(policySchema, rawTop['defaults'] ?? null, ['defaults'])
  const jails = readJails(rawTop['jails'], problems)

  let host = top?.host
  if (top !== undefined && host === undefined) {
    host = opts.hostname
    if (!HOST_NAME.test(host)) {
      problems.push({
        path: 'host',
        message: `this machine's name ${show(host)} is not ${HOST_NAME_FORMS}; set host: in the configuration`,
      })
    }
  }

  const dir = dirname(file)
  const jailConfigs: JailConfig[] = []
  for (const [name, jail] of jails) {
    if (defaults === undefined) continue
    const policy = policyOf(name, jail, defaults ?? {}, problems, rawTop)
    const sourceOk = checkSource(name, jail, problems)
    if (policy === undefined || !sourceOk || jail.enabled === false) continue
    jailConfigs.push({
      name,
      filter: jail.filter,
      successFilter: jail.success_filter ?? null,
      filterOptions: jail.filter_options ?? {},
      backend: jail.backend ?? 'auto',
      logpath: (jail.logpath ?? []).map((p) => resolve(dir, p)),
      journalmatch: jail.journalmatch ?? null,
      ports: jail.ports ?? [],
      protocol: jail.protocol ?? 'tcp',
      ignoreip: jail.ignoreip ?? [],
      policy,
    })
  }

  // A channel's `jails:` names jails of this file (disabled ones too).
  for (const channel of top?.notify?.channels ?? []) {
    for (const [i, jail] of (channel.jails ?? []).entries()) {
      if (jails.some(([name]) => name === jail)) continue
      const at = ['notify', 'channels', channel.name, 'jails', i]
      problems.push({ path: formatPath(at), message: `no jail named "${jail}" in this file`, value: jail }, at)
    }
  }

  if (!problems.empty || top === undefined || host === undefined) throw ConfigError.invalid(file, problems.sorted())
  const config: Config = {
    path: file,
    dataDir: resolve(dir, top.data_dir ?? DEFAULT_DATA_DIR),
    filterDirs: (top.filter_dirs ?? [DEFAULT_FILTER_DIR]).map(d => resolve(dir, d)),
    host,
    ignoreip: top.ignoreip ?? [...DEFAULT_IGNOREIP],
    ignoreSelf: top.ignore_self ?? true,
    logLevel: top.log_level ?? 'info',
    watcher: {
      maxLineBytes: top.watcher?.max_line_bytes ?? DEFAULT_MAX_LINE_BYTES,
      pollInterval: top.watcher?.poll_interval ?? DEFAULT_POLL_INTERVAL,
    },
    firewall: {
      backend: top.firewall?.backend ?? 'auto',
      checkInterval: top.firewall?.check_interval ?? DEFAULT_CHECK_INTERVAL,
      maxelem: top.firewall?.maxelem ?? DEFAULT_MAXELEM,
      ipv6Escalate: top.firewall?.ipv6_escalate ?? null,
    },
    notify: top.notify ?? { digestWindow: 0, channels: [] },
    bus: top.bus ?? { kind: 'embedded' },
    maxClockSkew: top.max_clock_skew ?? DEFAULT_MAX_CLOCK_SKEW,
    jails: jailConfigs,
  }
  return deepFreeze(config)
}

/** The jails that parsed, in file order; problems for the rest. */
function readJails(value: unknown, problems: Problems): [string, JailSection][] {
  const example = 'like jails: { ssh: { filter: sshd, logpath: /var/log/auth.log } }'
  if (value === undefined || value === null) {
    const what = value === undefined ? 'missing' : 'empty'
    problems.push({ path: 'jails', message: `${what}; expected at least one jail, ${example}` }, ['jails'])
    return []
  }
  if (!isRecord(value)) {
    problems.push({ path: 'jails', message: `expected a mapping of jail names to jail settings, got ${show(value)}`, value }, ['jails'])
    return []
  }
  const names = Object.keys(value)
  if (names.length === 0) {
    problems.push({ path: 'jails', message: `expected at least one jail, ${example}` }, ['jails'])
    return []
  }
  const jails: [string, JailSection][] = []
  for (const name of names) {
    if (!JAIL_NAME.test(name)) {
      problems.push({ path: formatPath(['jails', name]), message: `not a valid jail name (${JAIL_NAME_FORMS})` }, ['jails', name])
    }
    const jail = problems.parse(jailSchema, value[name], ['jails', name])
    if (jail !== undefined && JAIL_NAME.test(name)) jails.push([name, jail])
  }
  return jails
}

/** A jail reads files (logpath) or the journal (backend: systemd, with an
 *  optional journalmatch), never both. False after a problem. */
function checkSource(name: string, jail: JailSection, problems: Problems): boolean {
  const problem = (key: string, message: string): false => {
    const at = ['jails', name, key]
    problems.push({ path: formatPath(at), message }, at)
    return false
  }
  if (jail.backend === 'systemd') {
    if (jail.logpath !== undefined) {
      return problem('logpath', 'a jail with backend: systemd reads the systemd journal, not files: remove logpath, or backend to read files')
    }
    return true
  }
  if (jail.journalmatch !== undefined) {
    return problem('journalmatch', 'journalmatch is read only with backend: systemd (the jail reads the files in logpath)')
  }
  if (jail.logpath === undefined) {
    return problem('logpath', 'missing; expected a file path or a list of at least one (or backend: systemd to read the systemd journal)')
  }
  return true
}

/** jail value ?? defaults value ?? built-in; grace follows the effective findtime. */
function policyOf(
  name: string,
  jail: JailSection,
  defaults: PolicySection,
  problems: Problems,
  rawTop: Record<string, unknown>,
): JailPolicy | undefined {
  const bantime = jail.bantime ?? defaults.bantime ?? BUILT_IN_POLICY.bantime
  const findtime = jail.findtime ?? defaults.findtime ?? BUILT_IN_POLICY.findtime
  const fromJail = jail.bantime_increment !== undefined
  const increment: BantimeIncrement | null = (fromJail ? jail.bantime_increment : defaults.bantime_increment) ?? null
  if (increment !== null && increment.max < bantime) {
    const at: Segment[] = fromJail ? ['jails', name, 'bantime_increment', 'max'] : ['defaults', 'bantime_increment', 'max']
    const value = valueAt(rawTop, at)
    const whose = fromJail ? 'the bantime' : `the bantime of jail ${name}`
    problems.push(
      { path: formatPath(at), message: `expected at least ${whose} (${formatDuration(bantime)}), got ${show(value)}`, value },
      at,
    )
    return undefined
  }
  return {
    maxretry: jail.maxretry ?? defaults.maxretry ?? BUILT_IN_POLICY.maxretry,
    findtime,
    bantime,
    grace: jail.grace ?? defaults.grace ?? findtime,
    graceMaxFailures: jail.grace_max_failures ?? defaults.grace_max_failures ?? BUILT_IN_POLICY.graceMaxFailures,
    successLiftsBan: jail.success_lifts_ban ?? defaults.success_lifts_ban ?? BUILT_IN_POLICY.successLiftsBan,
    increment: increment === null ? null : { factor: increment.factor, max: increment.max },
  }
}

/** Collects problems, placing each on its line. */
class Problems {
  readonly #list: ConfigProblem[] = []
  readonly #lineOf: (segments: readonly Segment[]) => number | undefined

  constructor(lineOf: (segments: readonly Segment[]) => number | undefined) {
    this.#lineOf = lineOf
  }

  get empty(): boolean {
    return this.#list.length === 0
  }

  /** `segments`, when given, is looked up for the line (unless the problem has one). */
  push(problem: ConfigProblem, segments?: readonly Segment[]): void {
    const line = problem.line ?? (segments === undefined ? undefined : this.#lineOf(segments))
    const placed: ConfigProblem = line === undefined ? problem : { ...problem, line }
    if (!this.#list.some((p) => p.path === placed.path && p.line === placed.line && p.message === placed.message)) {
      this.#list.push(placed)
    }
  }

  /** Parses `value` with `schema`; on failure records its issues under `prefix`. */
  parse<S extends z.ZodType>(schema: S, value: unknown, prefix: readonly Segment[]): z.output<S> | undefined {
    const result = schema.safeParse(value, { reportInput: true })
    if (result.success) return result.data
    for (const issue of result.error.issues) {
      const at = [...prefix, ...issue.path.map((s) => (typeof s === 'number' ? s : String(s)))]
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          const keyAt = [...at, key]
          this.push({ path: formatPath(keyAt), message: `unknown key${suggestion(key, knownKeys(at))}` }, keyAt)
        }
        continue
      }
      const input: unknown = issue.input
      const shown = issue.code === 'custom' && issue.params?.['shown'] === true
      const message = shown ? issue.message : input === undefined ? `missing; ${issue.message}` : `${issue.message}, got ${show(input)}`
      this.push({ path: formatPath(at), message, ...(input === undefined ? {} : { value: input }) }, at)
    }
    return undefined
  }

  /** By line, problems without one last; otherwise in the order found. */
  sorted(): ConfigProblem[] {
    return this.#list
      .map((problem, index) => ({ problem, index }))
      .sort((a, b) => (a.problem.line ?? Infinity) - (b.problem.line ?? Infinity) || a.index - b.index)
      .map(({ problem }) => problem)
  }
}

/** `jails.ssh.maxretry`, `ignoreip[1]`, `jails["Bad Name"]`. */
export function formatPath(segments: readonly Segment[]): string {
  let text = ''
  for (const segment of segments) {
    if (typeof segment === 'number') text += `[${segment}]`
    else if (/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(segment)) text += text === '' ? segment : `.${segment}`
    else text += `[${show(segment)}]`
  }
  return text
}

const CHANNEL_KEYS = [...new Set([...NOTIFY_KNOWN_KEYS.email, ...NOTIFY_KNOWN_KEYS.freemobile, ...NOTIFY_KNOWN_KEYS.webhook])]

function knownKeys(at: readonly Segment[]): readonly string[] {
  const last = at[at.length - 1]
  if (at.length === 0) return KNOWN_KEYS.top
  if (last === 'bantime_increment') return KNOWN_KEYS.increment
  if (at.length === 1 && last === 'watcher') return KNOWN_KEYS.watcher
  if (at.length === 1 && last === 'firewall') return KNOWN_KEYS.firewall
  if (at.length === 1 && last === 'notify') return NOTIFY_KNOWN_KEYS.notify
  if (at.length === 2 && at[0] === 'bus' && last === 'nats') return NATS_KNOWN_KEYS.nats
  if (at.length === 3 && at[0] === 'bus' && last === 'tls') return NATS_KNOWN_KEYS.tls
  if (at.length === 3 && at[0] === 'notify' && at[1] === 'channels') return CHANNEL_KEYS
  if (at.length === 1 && last === 'defaults') return KNOWN_KEYS.policy
  if (at.length === 2 && at[0] === 'jails') return KNOWN_KEYS.jail
  return []
}

/** ` (did you mean "maxretry"?)` for a near miss, else ''. */
function suggestion(key: string, known: readonly string[]): string {
  const norm = (s: string) => s.toLowerCase().replace(/[-. ]/g, '_')
  const flat = (s: string) => norm(s).replace(/_/g, '')
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    if (flat(candidate) === flat(key)) return ` (did you mean ${show(candidate)}?)`
    const distance = key.length > 40 ? Infinity : levenshtein(norm(key), candidate)
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best !== undefined && bestDistance <= 2 && key.length >= 4 ? ` (did you mean ${show(best)}?)` : ''
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost))
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

/** The 1-based line of the deepest node of `segments` that exists: the key's
 *  line for a mapping entry, the item's for a list item. For the empty path,
 *  the document's first line. */
function lineOf(doc: Document, counter: LineCounter, segments: readonly Segment[]): number | undefined {
  const lineAt = (node: YamlNode | null | undefined) =>
    node?.range === undefined || node.range === null ? undefined : counter.linePos(node.range[0]).line
  let node: unknown = doc.contents
  let line = segments.length === 0 ? lineAt(doc.contents) : undefined
  for (const segment of segments) {
    if (isAlias(node)) node = node.resolve(doc)
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment))
      if (pair === undefined) break
      line = lineAt(pair.key as YamlNode) ?? line
      node = pair.value
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment]
      if (item === undefined || item === null) break
      line = lineAt(item as YamlNode) ?? line
      node = item
    } else {
      break
    }
  }
  return line
}

function valueAt(root: unknown, segments: readonly Segment[]): unknown {
  let node = root
  for (const segment of segments) {
    if (Array.isArray(node) && typeof segment === 'number') node = node[segment]
    else if (isRecord(node)) node = node[String(segment)]
    else return undefined
  }
  return node
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Freezes `value` and everything reachable from it. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}
