import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'drizzle/', '.data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly', __dirname: 'readonly', process: 'readonly' } },
  },
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Forgetting to await activities, workflow APIs or database writes is a bug, never a style.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The CLI is an API client: it reaches Outdial over HTTP only (types from the domain are fine).
    files: ['src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/domain/**', '**/db/*', '**/temporal/*', '**/claim/*', '**/calls/*', '**/activities/*', '**/workflows/*', '@temporalio/*', 'pg', 'drizzle-orm', 'drizzle-orm/*'],
              allowTypeImports: true,
              message: 'The CLI talks to the API over HTTP only.',
            },
          ],
        },
      ],
    },
  },
  {
    // Temporal's recommended restriction: workflow code is deterministic and does no I/O.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...builtinModules.filter((m) => m !== 'assert'), ...builtinModules.map((m) => `node:${m}`)].map(
            (name) => ({ name, message: 'Workflow code must not use Node built-ins (no I/O in workflows).' }),
          ),
          patterns: [
            { group: ['**/activities/*', '!**/activities/index'], message: 'Workflows import activity types only, from ../activities.' },
            { group: ['pg', 'drizzle-orm', 'drizzle-orm/*', 'twilio', 'express', 'pino', '**/db/client'], message: 'No I/O libraries in workflow code.' },
          ],
        },
      ],
    },
  },
);
