#!/usr/bin/env -S node --max-semi-space-size=64
// The `banledger` command. The TypeScript sources are compiled to dist/ by
// `npm ci` (the `prepare` script); this file only hands over to them.
// --max-semi-space-size=64 (MiB): the ledger keeps each batch's objects alive
// until its synced write; a larger young generation stops V8 from copying
// them to the old one (bench:ledger: ingest 69k -> 90k events/s). It only
// applies when this file runs as a program; `node bin/banledger.js` needs it
// on the node command line (see package.json "start" and ops/systemd/).
import '../dist/ops/cli/main.js'
