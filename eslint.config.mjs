// Lint keeps the pure core pure: the rules under ledger/rules/ may not import
// Node built-ins, storage, the bus or the logger (STYLE.md, "Boundaries").
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'var/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      'no-multiple-empty-lines': ['error', { max: 1, maxBOF: 0, maxEOF: 0 }],
    },
  },
  {
    files: ['ledger/rules/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'os', 'net', 'child_process', 'crypto'], message: 'ledger/rules is pure: no I/O.' },
          { group: ['level', 'classic-level', 'nats', 'pino', 'protobufjs'], message: 'ledger/rules is pure: no storage, bus, logger or wire.' },
          { group: ['**/store/**', '**/services/**', '**/ops/**', '**/proto/**'], message: 'ledger/rules depends on nothing outside itself.' },
        ],
      }],
      'no-restricted-globals': ['error',
        { name: 'Date', message: 'The rules never read the clock: take `now` as input.' },
        { name: 'process', message: 'The rules never read the environment.' },
      ],
      'no-restricted-properties': ['error',
        { object: 'Math', property: 'random', message: 'The rules are deterministic.' },
      ],
    },
  },
)
