// A set of fail2ban config files merged as fail2ban's SafeConfigParserWithIncludes
// merges them: `[INCLUDES] before/after` (relative to the including file, each
// file followed by its `.local` twin), later files override earlier options,
// an overridden option stays reachable as `known/<option>`, and values are
// interpolated on read (`%(opt)s`, `%(section/opt)s`, `%(known/opt)s`, `%%`).

import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { filterInvalid } from './errors.js'
import { DEFAULT_SECTION, parseIni, type IniFile } from './ini.js'

/** configparser's limit on nested interpolation. */
const MAX_INTERPOLATION_DEPTH = 10
const KEY = /^%\((?<var>[^)]+)\)s/
const SECTION_OPT = /^(?<sec>[\w-]+)\/(?<opt>[^)]+)$/
const CONDITIONAL = /^(?<name>\w+)(?<cond>\?.+)$/

export type Vars = ReadonlyMap<string, string>

export class MergedConfig {
  readonly files: readonly string[]
  readonly defaults = new Map<string, string>()
  readonly sections = new Map<string, Map<string, string>>()

  constructor(files: readonly { file: string; ini: IniFile }[]) {
    this.files = files.map((f) => f.file)
    for (const { ini } of files) {
      for (const [name, options] of ini) {
        if (name === DEFAULT_SECTION) {
          for (const [k, v] of options) this.defaults.set(k, v)
          continue
        }
        const cond = CONDITIONAL.exec(name)
        const target = cond?.groups?.['name'] ?? name
        const suffix = cond?.groups?.['cond'] ?? ''
        const incoming = new Map([...options].map(([k, v]) => [k + suffix, v]))
        const existing = this.sections.get(target)
        if (existing === undefined) {
          this.sections.set(target, incoming)
          continue
        }
        const known = this.sections.get(`KNOWN/${target}`) ?? new Map<string, string>()
        for (const k of incoming.keys()) {
          const old = existing.get(k)
          if (old !== undefined) known.set(k, old)
        }
        this.sections.set(`KNOWN/${target}`, known)
        for (const [k, v] of incoming) existing.set(k, v)
      }
    }
  }

  /** Own options of `section` (without DEFAULT), or null without the section. */
  ownOptions(section: string): string[] | null {
    const s = this.sections.get(section)
    return s === undefined ? null : [...s.keys()]
  }

  /** The raw value as configparser looks it up: vars, then section, then DEFAULT.
   *  undefined: no such option; null: no such section. */
  raw(section: string, option: string, vars: Vars): string | undefined | null {
    const s = section === DEFAULT_SECTION ? new Map<string, string>() : this.sections.get(section)
    if (s === undefined) return null
    return vars.get(option) ?? s.get(option) ?? this.defaults.get(option)
  }

  /** The interpolated value, undefined when the option (or section) is absent.
   *  Throws BANLEDGER_FILTER_INVALID on a bad or missing reference. */
  get(section: string, option: string, vars: Vars): string | undefined {
    const v = this.raw(section, option, vars)
    if (v === null || v === undefined) return undefined
    return this.interpolate(v, section, option, vars, 0)
  }

  #lookup(name: string, section: string, vars: Vars): string | undefined {
    const direct = this.raw(section, name, vars) ?? undefined
    if (direct !== undefined) return direct
    const so = SECTION_OPT.exec(name)
    if (so === null) return undefined
    const sec = so.groups?.['sec'] ?? ''
    const opt = so.groups?.['opt'] ?? ''
    const lower = sec.toLowerCase()
    if (lower === 'default') return this.defaults.get(opt)
    if (lower === 'known') return this.sections.get(`KNOWN/${section}`)?.get(opt) ?? this.defaults.get(opt)
    const target = this.sections.get(sec)
    if (target === undefined) return undefined
    return target.get(opt) ?? this.defaults.get(opt)
  }

  interpolate(value: string, section: string, option: string, vars: Vars, depth: number): string {
    if (depth > MAX_INTERPOLATION_DEPTH) {
      throw filterInvalid(this.#where(), option, `interpolation deeper than ${MAX_INTERPOLATION_DEPTH} levels in [${section}] (a reference loop?)`)
    }
    let out = ''
    let rest = value
    while (rest !== '') {
      const p = rest.indexOf('%')
      if (p < 0) return out + rest
      out += rest.slice(0, p)
      rest = rest.slice(p)
      if (rest[1] === '%') {
        out += '%'
        rest = rest.slice(2)
        continue
      }
      const m = KEY.exec(rest)
      if (m === null) throw filterInvalid(this.#where(), option, `in [${section}]: '%' must be followed by '%' or '(name)s', found ${JSON.stringify(rest.slice(0, 40))}`)
      const name = m.groups?.['var'] ?? ''
      rest = rest.slice(m[0].length)
      const v = this.#lookup(name, section, vars) ?? this.#lookup(name.toLowerCase(), section, vars)
      if (v === undefined) throw filterInvalid(this.#where(), option, `in [${section}]: %(${name})s refers to no option`)
      out += v.includes('%') ? this.interpolate(v, section, option, vars, depth + 1) : v
    }
    return out
  }

  #where(): string {
    return this.files.join(', ')
  }
}

/** The files fail2ban reads for `files` (in order): each one's includes
 *  (before, itself, after) and its `.local` twin; missing files are skipped. */
export async function loadConfig(files: readonly string[]): Promise<MergedConfig> {
  const cache = new Map<string, IniFile | null>()
  const read = async (file: string): Promise<IniFile | null> => {
    if (cache.has(file)) return cache.get(file) ?? null
    let ini: IniFile | null = null
    if (existsSync(file)) {
      let text: string
      try {
        text = await readFile(file, 'utf8')
      } catch (e) {
        throw filterInvalid(file, null, `cannot be read: ${(e as Error).message}`, e)
      }
      ini = parseIni(text, file)
    }
    cache.set(file, ini)
    return ini
  }
  const withLocal = (list: readonly string[]): string[] => {
    const out: string[] = []
    for (const f of list) {
      out.push(f)
      const local = f.replace(/\.[^./]*$/, '') + '.local'
      if (!list.includes(local) && existsSync(local)) out.push(local)
    }
    return out
  }
  const expand = async (list: readonly string[], seen: readonly string[]): Promise<string[]> => {
    const out: string[] = []
    for (const file of withLocal(list)) {
      const ini = await read(file)
      if (ini === null) continue
      const inc = ini.get('INCLUDES')
      const part = async (key: string): Promise<string[]> => {
        const found: string[] = []
        for (const entry of (inc?.get(key) ?? '').split('\n')) {
          if (entry === '') continue
          const target = path.resolve(path.dirname(file), entry)
          if (seen.includes(target)) continue
          found.push(...(await expand([target], [...seen, file])))
        }
        return found
      }
      const before = await part('before')
      const after = await part('after')
      out.push(...before, file, ...after)
    }
    return out
  }
  const order = await expand(files, [])
  const loaded: { file: string; ini: IniFile }[] = []
  for (const file of order) {
    const ini = await read(file)
    if (ini !== null) loaded.push({ file, ini })
  }
  return new MergedConfig(loaded)
}
