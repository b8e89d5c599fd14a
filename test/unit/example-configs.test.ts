// The example configs shipped in ops/examples/ are valid.
import { readdir } from 'node:fs/promises'
import t from 'tap'
import { loadConfig } from '../../ops/config/load-config.js'
import { watchedJails } from '../../services/run/filters-from-config.js'

t.test('every example config loads and names known filters', async t => {
  const dir = new URL('../../ops/examples/', import.meta.url)
  const files = (await readdir(dir)).filter(f => f.endsWith('.yaml'))
  t.ok(files.length >= 2)
  for (const f of files) {
    const config = await loadConfig(new URL(f, dir).pathname, { hostname: 'example' })
    t.ok(config.jails.length > 0, f)
    t.ok((await watchedJails(config)).length > 0, `${f}: filters exist`)
  }
})
