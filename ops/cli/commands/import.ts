// banledger import denyhosts [FILE] --jail J
import { readFile } from 'node:fs/promises'
import type { ImportedBan } from '../../../ledger/rules/types.js'
import { parseHostsDeny } from '../../import/denyhosts.js'
import { CONFIG_HELP, configOption, parse, readConfig, type Command } from '../command.js'
import { openLedgerApi } from '../ledger-access.js'
import { iso } from '../time-arg.js'
import { UsageError } from '../usage-error.js'

const DEFAULT_FILE = '/etc/hosts.deny'

export const importCommand: Command = {
  help: `Usage: banledger import denyhosts [FILE] --jail JAIL [--config FILE]

Imports the bans DenyHosts wrote to FILE (default ${DEFAULT_FILE}), keeping
each one's original time from its "# DenyHosts: <date> | sshd: <ip>" line;
a plain "sshd: <ip>" line without a date is banned from now. Bans that have
already run out (original time + the jail's bantime) are skipped. Importing
the same file twice changes nothing. Reports what was imported, what was
skipped and why.

Options:
  --jail JAIL       the jail the bans go to (required)
${CONFIG_HELP}`,
  async run(args, io) {
    const { values, positionals } = parse('import', args, { ...configOption, jail: { type: 'string', short: 'j' } })
    if (values.help === true) { io.out(this.help); return 0 }
    const [source, file = DEFAULT_FILE, ...rest] = positionals
    if (source !== 'denyhosts') throw new UsageError('import: the only source is "denyhosts" (banledger import denyhosts [FILE] --jail JAIL)')
    if (rest.length > 0) throw new UsageError(`import: unexpected argument ${JSON.stringify(rest[0])}`)
    const jail = values.jail
    if (typeof jail !== 'string') throw new UsageError('import: --jail is required')
    const config = await readConfig(values)
    if (!config.jails.some(j => j.name === jail)) throw new UsageError(`import: no jail "${jail}" in ${config.path}`)
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      throw new UsageError(`import: cannot read ${file}: ${(err as Error).message}`)
    }
    const now = io.now()
    const parsed = parseHostsDeny(text, { now })
    const inputs: ImportedBan[] = parsed.entries.map(e => {
      const bannedAt = e.bannedAt ?? now
      return {
        type: 'import', id: `denyhosts/${jail}/${e.ip}/${e.bannedAt ?? 'undated'}`, jail, ip: e.ip,
        bannedAt, at: now, source: `denyhosts:${file}:${e.line}`,
      }
    })
    const api = await openLedgerApi(config, { create: true, env: io.env })
    let imported = 0
    let skipped = parsed.skipped.length
    try {
      const results = await api.submit(inputs)
      if (api.via === 'bus') {
        // The ledger host decides; it says what it did in `banledger events`.
        io.out(`${inputs.length} sent to the ledger over NATS, ${skipped} skipped`)
        for (const s of parsed.skipped) io.out(`skipped line ${s.line}: ${s.why}: ${JSON.stringify(s.text)}`)
        return 0
      }
      results.forEach((r, i) => {
        const input = inputs[i] as ImportedBan
        const ban = r.events.find(e => e.type === 'BanIssued')
        const noEffect = r.events.find(e => e.type === 'NoEffect')
        if (ban !== undefined && ban.type === 'BanIssued') {
          imported++
          io.out(`imported ${input.ip}: banned ${iso(input.bannedAt)} until ${iso(ban.until)}`)
        } else {
          skipped++
          const why = r.duplicate ? 'already imported' : noEffect?.type === 'NoEffect' ? noEffect.why : 'no change'
          io.out(`skipped ${input.ip} (line ${input.source.split(':').pop()}): ${why}`)
        }
      })
    } finally {
      await api.close()
    }
    for (const s of parsed.skipped) io.out(`skipped line ${s.line}: ${s.why}: ${JSON.stringify(s.text)}`)
    io.out(`${imported} imported, ${skipped} skipped`)
    return 0
  },
}
