// A command imports what it uses: `banledger bans` on a single host loads
// no NATS client, no mail library and not the watcher (ops/cli/main.ts
// imports each command when it runs; the paths under data_dir, the ledger
// stream and the NATS ledger API are modules of their own for this).
// Importing the whole service cost every command about 0.25 s before it
// did anything. Checked on the built modules the `banledger` binary runs.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'

const COMMANDS = new URL('../../dist/ops/cli/commands/', import.meta.url)
/** Packages only some roles need: NATS (fleets), mail (the notifier), globbing (the watcher). */
const HEAVY = ['nats', 'nodemailer', 'fast-glob']

/** The modules that importing `module` loads, as a module resolve hook
 *  (node:module's register) sees them resolved, in a fresh process whose
 *  arguments are `args`. */
async function modulesLoadedBy(module: URL, args: readonly string[] = []): Promise<string[]> {
  const hooks = `let port
    export function initialize(data) { port = data.port }
    export async function resolve(specifier, context, next) {
      const resolved = await next(specifier, context)
      port.postMessage(resolved.url)
      return resolved
    }`
  const script = `
    import { register } from 'node:module'
    import { MessageChannel } from 'node:worker_threads'
    const { port1, port2 } = new MessageChannel()
    const urls = []
    let ended
    const end = new Promise(resolve => { ended = resolve })
    // Messages come in order: the last import's URL says every earlier one came.
    port1.on('message', url => { if (url.startsWith('data:')) ended(); else urls.push(url) })
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}), { data: { port: port2 }, transferList: [port2] })
    await import(${JSON.stringify(module.href)})
    await import('data:text/javascript,//end')
    await end
    port1.close()
    console.log(JSON.stringify(urls))`
  // `node -e SCRIPT X ARGS...`: process.argv.slice(2) is ARGS. What the
  // module prints comes first; the list is the last line.
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, 'node', ...args])
  return JSON.parse(stdout.trimEnd().split('\n').at(-1) ?? '') as string[]
}

/** The packages that importing `module` loads. */
async function packagesLoadedBy(module: URL): Promise<string[]> {
  const packages = (await modulesLoadedBy(module)).map(url => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1])
  return [...new Set(packages.filter(p => p !== undefined))]
}

t.test('given the commands that only reach the ledger, when one is imported', async t => {
  for (const file of ['bans', 'events', 'explain', 'replay', 'operator', 'import', 'firewall']) {
    const loaded = await packagesLoadedBy(new URL(`${file}.js`, COMMANDS))
    t.ok(loaded.includes('level'), `${file}: the ledger's LevelDB is loaded (the check sees packages)`)
    t.same(loaded.filter(p => HEAVY.includes(p)), [], `${file}: none of ${HEAVY.join(', ')}`)
  }
})

t.test('given `banledger run`, when its command is imported, then the service it runs loads them all', async t => {
  const loaded = await packagesLoadedBy(new URL('run.js', COMMANDS))
  t.same(HEAVY.filter(p => !loaded.includes(p)), [], 'the check sees each of them')
})

t.test('given `banledger --help`, when it runs, then it loads no command module and no package', async t => {
  const loaded = await modulesLoadedBy(new URL('../main.js', COMMANDS), ['--help'])
  t.ok(loaded.some(url => url.endsWith('/dist/ops/cli/summaries.js')), 'the check sees the modules main.js imports')
  t.same(loaded.filter(url => url.includes('/commands/') || url.includes('/node_modules/')), [])
})
