// The typed, frozen configuration that `loadConfig` returns. The YAML keys
// are snake_case (see README "Configuration"); these are their parsed forms.
import type { JailPolicy, Millis } from '../../ledger/rules/types.js'
import type { NotifyConfig } from '../../services/notifier/notifier-config.js'
import type { BusConfig } from '../../services/bus/bus-config.js'
import type { JournalMatch } from '../../services/watcher/journal-match.js'

export type Protocol = 'tcp' | 'udp'

export type JailConfig = Readonly<{
  name: string
  /** Failure filter: a built-in name (e.g. `sshd`), a fail2ban filter name
   *  looked up in `filterDirs`, or a path to a fail2ban filter file. */
  filter: string
  /** Success filter (R3, R7, R8), or null when the jail has none. */
  successFilter: string | null
  /** fail2ban filter options (`mode`, `logtype`...), for fail2ban filters. */
  filterOptions: Readonly<Record<string, string>>
  /** `auto`: the files in `logpath`; `systemd`: the systemd journal. */
  backend: 'auto' | 'systemd'
  /** Absolute paths (relative ones are resolved against the config file's
   *  folder); empty with backend systemd. */
  logpath: readonly string[]
  /** The jail's journalctl matches (backend systemd), which replace its
   *  filters' own; null: the filters' (see filters-from-config.ts). */
  journalmatch: JournalMatch | null
  ports: readonly number[]
  protocol: Protocol
  /** Extra ignore entries for this jail only, added to the global ones. */
  ignoreip: readonly string[]
  policy: JailPolicy
}>

export type WatcherConfig = Readonly<{
  /** Longer lines are cut to this many bytes before any filter runs. */
  maxLineBytes: number
  /** How often files are checked for growth and rotation. */
  pollInterval: Millis
}>

export type FirewallConfig = Readonly<{
  /** `auto` picks nftables when usable, then ipset, then iptables. */
  backend: 'auto' | 'nftables' | 'ipset' | 'iptables' | 'dry-run'
  /** How often the kernel is compared with the ledger and drift repaired. */
  checkInterval: Millis
  /** ipset's maxelem per set (ipset backend). */
  maxelem: number
  /** Ban an IPv6 /64 instead of its addresses once this many of them are
   *  banned in one jail; null (the default): never. */
  ipv6Escalate: number | null
}>

export type Config = Readonly<{
  /** Absolute path of the file this was read from. */
  path: string
  /** Absolute; holds the ledger and every other piece of local state. */
  dataDir: string
  /** Folders searched for fail2ban filters (`NAME.conf`), in order. */
  filterDirs: readonly string[]
  /** This host's name on events it publishes. */
  host: string
  ignoreip: readonly string[]
  /** Never ban this host's own addresses (R9). */
  ignoreSelf: boolean
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
  watcher: WatcherConfig
  firewall: FirewallConfig
  /** Notification channels (email, Free Mobile SMS, webhook); none by default. */
  notify: NotifyConfig
  /** Embedded (one process) or NATS JetStream (a fleet). */
  bus: BusConfig
  /** Event times further ahead of the ledger's clock are not trusted (see README). */
  maxClockSkew: Millis
  jails: readonly JailConfig[]
}>
