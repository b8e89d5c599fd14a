// The one-line summary of each command, in the order of `banledger --help`.
// Apart from the commands so that the help imports none of them: their
// modules bring the service, NATS, LevelDB and mail (0.29 s for the help
// with them, 0.06 s without).
export const SUMMARIES = {
  run: 'run the service (watchers, ledger, firewall, notifier)',
  config: 'check the configuration, its filters and secrets, as run reads them (before a reload)',
  simulate: 'run the filters and rules over log files offline and print the decisions',
  'filter-test': 'test a filter against a log file, like fail2ban-regex',
  status: 'each jail\'s addresses by where they stand now: banned, failing, in grace, tracked',
  bans: 'list the bans in force now, or at a past time',
  explain: 'show the ledger entries that led to an address\'s state',
  events: 'print the ledger\'s events and decisions (--follow: as they are committed)',
  replay: 'rebuild the projections from the log alone and verify them (--from-bus: seed from NATS)',
  ban: 'bans IP in the jail (for --duration, default the jail\'s bantime)',
  unban: 'lifts the ban of IP in the jail',
  pardon: 'lifts any ban of IP in the jail, clears its failure counter and opens a grace window',
  import: 'import active bans from another tool (denyhosts)',
  firewall: 'compare the kernel with the ledger (check), show it (list), or remove banledger\'s rules (flush)',
  notify: 'show the notification channels\' state (status) or send a test message (test)',
} as const

export type CommandName = keyof typeof SUMMARIES
