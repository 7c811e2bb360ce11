// Lint: typescript-eslint's recommended rules, formatting left to prettier (eslint-config-prettier
// turns off the rules it owns), and the plugin/host boundary of DESIGN.md as an import rule (the
// finer rules of lib/server's rooms live in spec/architecture.spec.ts).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import prettier from 'eslint-config-prettier'
import globals from 'globals'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/results/', 'spec/artifacts/', 'packages/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // got's and node-xmpp-server's internals are reached through narrow `any` casts, each commented.
      '@typescript-eslint/no-explicit-any': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['lib/plugin/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/server/**', '**/cli/**'], message: 'The plugin uses only the contract (lib/contract.ts): DESIGN.md.' }] },
      ],
    },
  },
  {
    files: ['lib/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/spec/**', '**/bench/**'], message: 'lib/ never imports specs or benchmarks.' }] }],
    },
  },
  {
    files: ['lib/server/admin/dashboard/**/*.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
  prettier,
)
