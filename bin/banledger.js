#!/usr/bin/env node
// The `banledger` command. The TypeScript sources are compiled to dist/ by
// `npm ci` (the `prepare` script); this file only hands over to them.
import '../dist/ops/cli/main.js'
