// ControlRequest / ControlResponse <-> the LedgerApi's domain values.
import type { SubmitResult } from '../../ledger/ledger.js'
import type { LedgerInput } from '../../ledger/rules/types.js'
import type { VerifyReport } from '../../ledger/store/log-reader.js'
import {
  banReasonWire, entryFromWire, eventFromWire, eventToWire, inputFromWire, inputToWire, WireError,
} from '../../proto/wire.js'
import type { ChannelStatus } from '../notifier/notifier-worker.js'
import type { BanView, LedgerStatus } from './ledger-api.js'

type Msg = Record<string, unknown>
const list = (m: Msg, f: string): Msg[] => (Array.isArray(m[f]) ? (m[f] as Msg[]) : [])
const n = (v: unknown): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new WireError('not a safe integer')
  return v
}

export type ControlCall =
  | { op: 'submit'; inputs: LedgerInput[] }
  | { op: 'bans'; at: number | null }
  | { op: 'explain'; ip: string }
  | { op: 'entries'; from: number; limit: number }
  | { op: 'verify' }
  | { op: 'notifyStatus' }
  | { op: 'status' }

export function requestToWire(call: ControlCall): Msg {
  switch (call.op) {
    case 'submit': return { submit: { inputs: call.inputs.map(inputToWire) } }
    case 'bans': return { bans: { at: call.at ?? 0 } }
    case 'explain': return { explain: { ip: call.ip } }
    case 'entries': return { entries: { fromSeq: call.from, limit: call.limit } }
    case 'verify': return { verify: {} }
    case 'notifyStatus': return { notifyStatus: {} }
    case 'status': return { status: {} }
  }
}

export function requestFromWire(m: Msg): ControlCall {
  switch (m['request']) {
    case 'submit': return { op: 'submit', inputs: list(m['submit'] as Msg, 'inputs').map(inputFromWire) }
    case 'bans': {
      const at = n((m['bans'] as Msg)['at'])
      return { op: 'bans', at: at === 0 ? null : at }
    }
    case 'explain': return { op: 'explain', ip: String((m['explain'] as Msg)['ip']) }
    case 'entries': {
      const e = m['entries'] as Msg
      return { op: 'entries', from: n(e['fromSeq']), limit: n(e['limit']) }
    }
    case 'verify': return { op: 'verify' }
    case 'notifyStatus': return { op: 'notifyStatus' }
    case 'status': return { op: 'status' }
    default: throw new WireError('ControlRequest: no request set')
  }
}

export const resultsToWire = (rs: readonly SubmitResult[]): Msg[] =>
  rs.map(r => ({ seq: r.seq, duplicate: r.duplicate, events: r.events.map(eventToWire) }))
export const resultsFromWire = (m: Msg): SubmitResult[] =>
  list(m, 'results').map(r => ({ seq: n(r['seq']), duplicate: r['duplicate'] === true, events: list(r, 'events').map(eventFromWire) }))

export const bansToWire = (bans: readonly BanView[]): Msg =>
  ({ bans: bans.map(b => ({ ...b, reason: banReasonWire.to(b.reason) })) })
export const bansFromWire = (m: Msg): BanView[] =>
  list((m['snapshot'] ?? {}) as Msg, 'bans').map(b => ({
    jail: String(b['jail']), ip: String(b['ip']), since: n(b['since']), until: n(b['until']), reason: banReasonWire.from(b['reason']),
  }))

export const entriesFromWire = (m: Msg) => list(m, 'entries').map(entryFromWire)

export const reportToWire = (r: VerifyReport): Msg =>
  ({ entries: r.entries, addresses: r.addresses, mismatches: [...r.mismatches, ...(r.mismatchCount > r.mismatches.length ? [`... ${r.mismatchCount - r.mismatches.length} more`] : [])], elapsedMs: 0 })
export const reportFromWire = (m: Msg): VerifyReport => {
  const r = (m['report'] ?? {}) as Msg
  const mismatches = Array.isArray(r['mismatches']) ? (r['mismatches'] as string[]) : []
  return { entries: n(r['entries']), addresses: n(r['addresses']), lastSeq: 0, mismatches, mismatchCount: mismatches.length }
}

export const channelsToWire = (cs: readonly ChannelStatus[]): Msg[] =>
  cs.map(c => ({ name: c.name, kind: c.kind, pending: c.pending, failed: c.failed, oldestPendingAge: c.oldestPendingAge ?? 0, disabled: c.disabled ?? '' }))
export const channelsFromWire = (m: Msg): ChannelStatus[] =>
  list(m, 'channels').map(c => ({
    name: String(c['name']), kind: String(c['kind']) as ChannelStatus['kind'], pending: n(c['pending']), failed: n(c['failed']),
    oldestPendingAge: n(c['oldestPendingAge']) === 0 ? null : n(c['oldestPendingAge']),
    disabled: c['disabled'] === '' ? null : String(c['disabled']),
  }))

export const statusToWire = (st: LedgerStatus): Msg => ({ seq: st.seq, jails: st.jails.map(j => ({ ...j })) })
export const statusFromWire = (m: Msg): LedgerStatus => ({
  seq: n(m['seq'] ?? 0),
  jails: list(m, 'jails').map(j => ({
    jail: String(j['jail']), tracked: n(j['tracked'] ?? 0), banned: n(j['banned'] ?? 0), failing: n(j['failing'] ?? 0), grace: n(j['grace'] ?? 0),
  })),
})
