// banledger simulate: the filters and rules over log files, offline, on log
// time, in a throw-away ledger; prints the decisions in time order.
import { createReadStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Ledger } from '../../../ledger/ledger.js'
import { decisionsOf } from '../../../ledger/rules/decisions.js'
import type { Decision, LogEvent } from '../../../ledger/rules/types.js'
import { watchedJails } from '../../../services/run/filters-from-config.js'
import { rulesFromConfig } from '../../../services/run/rules-from-config.js'
import { eventsOfLines, forSource } from '../../../services/watcher/watcher.js'
import type { Config } from '../../config/types.js'
import { CONFIG_HELP, configOption, parse, readConfig, type Command } from '../command.js'
import { iso, parseTimeArg } from '../time-arg.js'
import { UsageError } from '../usage-error.js'

const BATCH = 2000

export const simulateCommand: Command = {
  help: `Usage: banledger simulate [--json] [--until TIME] [--now TIME] [--config FILE] LOG...

Runs every jail's filters over the LOG files and the ledger's rules over the
events, on log time, in a throw-away ledger, and prints the bans and unbans
in time order. Expiries are printed when log time (or --until) passes them.
Same logs + same config = same decisions. Nothing is changed on this host.

Options:
  --json            one JSON object per line:
                    {"type":"ban","jail":"ssh","ip":"203.0.113.7","at":"...","until":"...","reason":"maxretry"}
                    type: ban | unban; reason: maxretry, expired, success, operator, import
  --until TIME      stop at TIME: later lines are ignored, expiries up to TIME printed
  --now TIME        the "current" time for log lines without a year (default: --until, else now)
${CONFIG_HELP}`,
  async run(args, io) {
    const { values, positionals } = parse('simulate', args, {
      ...configOption, json: { type: 'boolean' }, until: { type: 'string' }, now: { type: 'string' },
    })
    if (values.help === true) { io.out(this.help); return 0 }
    if (positionals.length === 0) throw new UsageError('simulate: name at least one LOG file (see banledger simulate --help)')
    const until = typeof values.until === 'string' ? parseTimeArg('--until', values.until) : null
    const now = typeof values.now === 'string' ? parseTimeArg('--now', values.now) : until ?? io.now()
    const config = await readConfig(values)
    const decisions = await simulate(config, positionals, { now, until })
    for (const d of decisions) io.out(values.json === true ? JSON.stringify(decisionJson(d)) : decisionText(d))
    return 0
  },
}

export function decisionJson(d: Decision): Record<string, string> {
  return {
    type: d.type, jail: d.jail, ip: d.ip, at: iso(d.at),
    ...(d.type === 'ban' ? { until: iso(d.until) } : {}),
    reason: d.reason,
  }
}

const decisionText = (d: Decision): string =>
  d.type === 'ban'
    ? `${iso(d.at)} ban   ${d.jail} ${d.ip} until ${iso(d.until)} (${d.reason})`
    : `${iso(d.at)} unban ${d.jail} ${d.ip} (${d.reason})`

/** Every event the jails' filters find in `files`, in time order (stable). */
async function readEvents(config: Config, files: readonly string[], now: number): Promise<LogEvent[]> {
  // On log time: no event is too old here (the watcher's horizon is for live logs).
  const jails = (await watchedJails(config)).map(j => ({ ...j, horizon: Infinity }))
  const events: LogEvent[] = []
  const max = config.watcher.maxLineBytes
  for (const [fileIndex, file] of files.entries()) {
    const stream = createReadStream(file, { encoding: 'utf8' })
    const opened = new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve())
      stream.once('error', err => reject(new UsageError(`simulate: cannot read ${file}: ${err.message}`)))
    })
    await opened
    let offset = 0
    const readers = forSource(jails) // a file's lines never meet another's in a filter's state
    for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
      // Ids only need to be unique within this run: file index and offset.
      const line = { text: text.length > max ? text.slice(0, max) : text, offset, fileId: `file${fileIndex}`, path: file }
      offset += Buffer.byteLength(text) + 1
      events.push(...eventsOfLines([line], readers, config.host, now))
    }
  }
  return events.map((e, i) => [e, i] as const).sort((a, b) => a[0].at - b[0].at || a[1] - b[1]).map(([e]) => e)
}

export async function simulate(
  config: Config, files: readonly string[], opts: Readonly<{ now: number; until: number | null }>,
): Promise<Decision[]> {
  const events = (await readEvents(config, files, opts.now)).filter(e => opts.until === null || e.at <= opts.until)
  const dir = await mkdtemp(join(tmpdir(), 'banledger-simulate-'))
  const ledger = await Ledger.open({ dir, rules: rulesFromConfig(config) })
  const decisions: Decision[] = []
  ledger.onCommit(entries => { for (const e of entries) decisions.push(...decisionsOf(e)) })
  // A batch may not run past the earliest time at which state it creates
  // could fall due, so that expiries are noticed in log-time order.
  const horizon = Math.min(...config.jails.map(j => Math.min(j.policy.bantime, j.policy.findtime, j.policy.grace > 0 ? j.policy.grace : Infinity)))
  try {
    let batch: LogEvent[] = []
    const flush = async (): Promise<void> => {
      if (batch.length > 0) await ledger.submit(batch)
      batch = []
    }
    for (const e of events) {
      const first = batch[0]
      if (batch.length >= BATCH || (first !== undefined && e.at >= first.at + horizon)) await flush()
      const due = ledger.nextDueAt()
      if (due !== undefined && due <= e.at) {
        await flush()
        await ledger.tick(e.at)
      }
      batch.push(e)
    }
    await flush()
    const last = opts.until ?? events[events.length - 1]?.at
    if (last !== undefined) await ledger.tick(last)
  } finally {
    await ledger.close()
    await rm(dir, { recursive: true, force: true })
  }
  return decisions.map((d, i) => [d, i] as const).sort((a, b) => a[0].at - b[0].at || a[1] - b[1]).map(([d]) => d)
}
