// How long a test waits before it calls a condition failed. Waits end as
// soon as their condition holds (wait-for.ts), so a long limit costs a
// passing test nothing; it only delays the report of a real failure. The
// limits in the tests are what a quiet machine needs, times PATIENCE: CI
// runs on shared virtual machines whose CPU is now and then many times
// slower (stolen by neighbours, pages reclaimed by the host), and a child
// process there can take 30 s to start and answer.

const DEFAULT = 10

/** BANLEDGER_TEST_PATIENCE: the factor (default 10; 1 for quick failures
 *  while working on a test). */
function factor(): number {
  const raw = process.env['BANLEDGER_TEST_PATIENCE']
  if (raw === undefined || raw === '') return DEFAULT
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`BANLEDGER_TEST_PATIENCE must be a positive number, got ${JSON.stringify(raw)}`)
  return n
}
export const PATIENCE = factor()

/** `ms`, the limit a quiet machine needs, scaled by PATIENCE. */
export const patience = (ms: number): number => Math.round(ms * PATIENCE)
