// The filters shipped with banledger, by name. All are written for this
// project; users' fail2ban filter files are read at run time elsewhere.
import { apacheAuthFilter } from './apache-auth.js'
import { apacheBadBotsFilter } from './apache-badbots.js'
import { dovecotFilter } from './dovecot.js'
import type { LineFilter } from './filter.js'
import { nginxHttpAuthFilter } from './nginx-http-auth.js'
import { postfixFilter } from './postfix.js'
import { sshdFilter, sshdSuccessFilter } from './sshd.js'

export const builtinFilters: ReadonlyMap<string, LineFilter> = new Map<string, LineFilter>(
  [
    sshdFilter, sshdSuccessFilter,
    apacheAuthFilter, apacheBadBotsFilter, nginxHttpAuthFilter,
    postfixFilter, dovecotFilter,
  ].map((filter) => [filter.name, filter]),
)

/** The built-in filter called `name`, or undefined when there is none. */
export function builtinFilter(name: string): LineFilter | undefined {
  return builtinFilters.get(name)
}
