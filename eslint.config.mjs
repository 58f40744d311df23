// Workflow code runs in Temporal's deterministic sandbox: no Node builtins, no I/O,
// and none of the SDK packages meant for activities, clients or workers.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.ferry/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Workflows must be deterministic: no Node builtins.' })),
            { name: '@temporalio/activity', message: 'Activities only.' },
            { name: '@temporalio/client', message: 'Clients only.' },
            { name: '@temporalio/worker', message: 'Workers only.' },
            { name: 'pg', message: 'Workflows do no I/O: call an activity.' },
          ],
          patterns: [
            { group: ['../activities/adapters/*', '../activities/adapters/**'], message: 'Workflows never import adapters.' },
          ],
        },
      ],
    },
  },
  { files: ['**/*.mjs', '**/*.js'], ...tseslint.configs.disableTypeChecked },
);
