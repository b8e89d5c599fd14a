// One fail2ban config file as Python's configparser reads it (the options
// fail2ban sets: inline comments start with ';' after white space, full-line
// comments with '#' or ';', continuation lines are indented deeper than their
// option, empty lines inside a value are kept, option names are lower-cased,
// section names are not). Values are raw: interpolation happens on read.

import { filterInvalid } from './errors.js'

export const DEFAULT_SECTION = 'DEFAULT'

/** Sections by name; the DEFAULT section is kept under its own name. */
export type IniFile = Map<string, Map<string, string>>

const SECTION = /^\[(?<name>.+)\]$/
const OPTION = /^(?<key>.*?)\s*[=:]\s*(?<value>.*)$/

function stripInlineComment(line: string): string {
  for (let i = line.indexOf(';'); i !== -1; i = line.indexOf(';', i + 1)) {
    if (i === 0 || /\s/.test(line[i - 1] ?? '')) return line.slice(0, i)
  }
  return line
}

/** Parses `text` (from `file`, named in errors). Throws BANLEDGER_FILTER_INVALID
 *  on a line outside any section, a line that is no option, or an option
 *  given twice in one section of one file (configparser's strict mode). */
export function parseIni(text: string, file: string): IniFile {
  const out: IniFile = new Map()
  let section: Map<string, string[]> | null = null
  let sectionName = ''
  let option: string | null = null
  let indent = Number.MAX_SAFE_INTEGER
  const raw = new Map<string, Map<string, string[]>>()
  const lines = text.split(/\r?\n/)
  for (const [i, line] of lines.entries()) {
    const full = line.trim()
    const comment = full.startsWith('#') || full.startsWith(';')
    const value = comment ? '' : stripInlineComment(line).trim()
    if (value === '') {
      if (!comment && section !== null && option !== null) section.get(option)?.push('')
      continue
    }
    const lineIndent = line.length - line.trimStart().length
    if (section !== null && option !== null && lineIndent > indent) {
      section.get(option)?.push(value)
      continue
    }
    indent = lineIndent
    const header = SECTION.exec(value)
    if (header !== null) {
      sectionName = header.groups?.['name'] ?? ''
      section = raw.get(sectionName) ?? new Map()
      raw.set(sectionName, section)
      option = null
      continue
    }
    if (section === null) throw filterInvalid(file, null, `line ${i + 1}: no section header before ${JSON.stringify(value)}`)
    const opt = OPTION.exec(value)
    const key = opt?.groups?.['key']?.trimEnd().toLowerCase() ?? ''
    if (opt === null || key === '') throw filterInvalid(file, null, `line ${i + 1} in [${sectionName}] is not an option: ${JSON.stringify(value)}`)
    if (section.has(key)) throw filterInvalid(file, key, `line ${i + 1}: given twice in [${sectionName}]`)
    section.set(key, [(opt.groups?.['value'] ?? '').trim()])
    option = key
  }
  for (const [name, options] of raw) {
    out.set(name, new Map([...options].map(([k, v]) => [k, v.join('\n').trimEnd()])))
  }
  return out
}
