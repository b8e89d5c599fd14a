// Reads a fail2ban filter (`filter.d/NAME.conf` and its `.local`/`.d` files)
// the way fail2ban's FilterReader does: [Definition] options interpolated
// with the caller's options as overrides, [Init] options joined in (the
// caller's win), then `<tag>` substitution: `<name>` is replaced when `name`
// is an option (also `section/option`, `known/option`), innermost first, so
// `<lt_<logtype>/__prefix_line>` works; other tags (`<HOST>`) stay.

import { readdir } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { filterInvalid, Fail2banError } from './errors.js'
import { loadConfig, type MergedConfig, type Vars } from './config.js'

export type FilterDefinition = Readonly<{
  failregex: readonly string[]
  ignoreregex: readonly string[]
  prefregex: string | null
  datepattern: string | null
  maxlines: number
  journalmatch: string | null
  /** Every option after substitution (the seven above, usedns, [Init] ones). */
  options: Readonly<Record<string, string>>
}>

const FILTER_OPTIONS = ['usedns', 'prefregex', 'ignoreregex', 'failregex', 'maxlines', 'datepattern', 'journalmatch'] as const
const TAG = /<([^ <>]+)>/g
const SECTION_OPT = /^(?<sec>[\w-]+)\/(?<opt>[^\s>]+)$/
const CONDITIONAL = /^\w+\?.+$/
/** Bounds the work of tag substitution on hostile or broken files. */
const MAX_TAG_DEPTH = 50
const MAX_VALUE_LENGTH = 1 << 20

async function filterFiles(filterDir: string, name: string): Promise<string[]> {
  const base = path.join(filterDir, name)
  const inDir = async (ext: string): Promise<string[]> => {
    try {
      return (await readdir(`${base}.d`)).filter((f) => f.endsWith(ext)).sort().map((f) => path.join(`${base}.d`, f))
    } catch {
      return []
    }
  }
  return [`${base}.conf`, ...(await inDir('.conf')), `${base}.local`, ...(await inDir('.local'))].filter((f) => existsSync(f))
}

/** Reads filter `name` from `filterDir`. `filterOptions` are a jail's
 *  `filter = name[opt=value, ...]` options (e.g. mode, logtype). Throws
 *  BANLEDGER_FILTER_INVALID naming the file, the option and the reason. */
export async function readFilter(
  filterDir: string,
  name: string,
  filterOptions: Readonly<Record<string, string>> = {},
): Promise<FilterDefinition> {
  if (!/^[\w.@-]+$/.test(name) || name.startsWith('.')) {
    throw filterInvalid(path.join(filterDir, name), null, 'not a valid filter name')
  }
  const files = await filterFiles(filterDir, name)
  if (files.length === 0) throw filterInvalid(path.join(filterDir, `${name}.conf`), null, 'no such filter (no .conf or .local file)')
  const cfg = await loadConfig(files)
  return resolveFilter(cfg, filterOptions)
}

/** The filter in `cfg` (see readFilter). */
export function resolveFilter(cfg: MergedConfig, filterOptions: Readonly<Record<string, string>> = {}): FilterDefinition {
  const where = cfg.files.join(', ')
  const vars: Vars = new Map(Object.entries(filterOptions).map(([k, v]) => [k.toLowerCase(), v]))
  const combined = new Map<string, string>()
  for (const opt of FILTER_OPTIONS) {
    if (vars.has(opt)) continue
    const v = cfg.get('Definition', opt, vars)
    if (v !== undefined) combined.set(opt, v)
  }
  const init = new Map(vars)
  for (const opt of cfg.ownOptions('Init') ?? []) {
    const v = cfg.get('Init', opt, new Map())
    if (v === undefined) continue
    if (!opt.startsWith('known/')) init.set(`known/${opt}`, v)
    if (!init.has(opt)) init.set(opt, v)
  }
  for (const [k, v] of init) combined.set(k, v)

  const definitionOption = (tag: string): string | undefined => {
    const so = SECTION_OPT.exec(tag)
    if (so !== null) {
      const sec = so.groups?.['sec'] ?? ''
      const opt = so.groups?.['opt'] ?? ''
      const lower = sec.toLowerCase()
      const sections = lower === 'known' ? ['KNOWN/Definition', 'Definition'] : [lower === 'default' ? 'DEFAULT' : sec]
      for (const s of sections) {
        const v = cfg.get(s, opt, new Map())
        if (v !== undefined) return v
      }
    }
    return cfg.get('Definition', tag, vars)
  }
  const lookup = (tag: string): string | undefined => combined.get(tag) ?? definitionOption(tag)

  const resolved = new Map<string, string>()
  const substitute = (option: string, value: string, stack: readonly string[]): string => {
    if (stack.length > MAX_TAG_DEPTH) throw filterInvalid(where, stack[0] ?? option, `tags nested deeper than ${MAX_TAG_DEPTH}: ${stack.join(' -> ')}`)
    let out = value
    for (;;) {
      let replaced = false
      for (const m of out.matchAll(TAG)) {
        const tag = m[1] ?? ''
        if (tag === option || stack.includes(tag)) {
          throw filterInvalid(where, stack[0] ?? option, `tag <${tag}> refers to itself: ${[...stack, option, tag].join(' -> ')}`)
        }
        let repl = resolved.get(tag)
        if (repl === undefined) {
          const raw = lookup(tag)
          if (raw === undefined) continue
          repl = substitute(tag, raw, [...stack, option])
          resolved.set(tag, repl)
        }
        out = out.split(`<${tag}>`).join(repl)
        if (out.length > MAX_VALUE_LENGTH) throw filterInvalid(where, option, `value grows beyond ${MAX_VALUE_LENGTH} characters`)
        replaced = true
        break
      }
      if (!replaced) return out
    }
  }

  const options: Record<string, string> = {}
  for (const [k, v] of combined) {
    try {
      options[k] = CONDITIONAL.test(k) ? v : substitute(k, v, [])
    } catch (e) {
      if (e instanceof Fail2banError) throw e
      throw filterInvalid(where, k, (e as Error).message, e)
    }
  }
  const lines = (v: string | undefined): string[] => (v ?? '').split('\n').filter((l) => l !== '')
  const nonEmpty = (v: string | undefined): string | null => (v === undefined || v === '' ? null : v)
  const maxRaw = options['maxlines']
  const maxlines = maxRaw === undefined || maxRaw.trim() === '' ? 1 : Number(maxRaw)
  if (!Number.isInteger(maxlines) || maxlines < 1) throw filterInvalid(where, 'maxlines', `not a positive integer: ${JSON.stringify(maxRaw)}`)
  return Object.freeze({
    failregex: Object.freeze(lines(options['failregex'])),
    ignoreregex: Object.freeze(lines(options['ignoreregex'])),
    prefregex: nonEmpty(options['prefregex']),
    datepattern: nonEmpty(options['datepattern']),
    maxlines,
    journalmatch: nonEmpty(options['journalmatch']),
    options: Object.freeze(options),
  })
}
