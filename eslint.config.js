import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'build/', 'dist/', 'dist.*/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The loader bin/hutch starts node on is CommonJS: the bundle it compiles must be (scripts/build.mjs).
    files: ['scripts/loader.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The library returns data; only src/cli talks to the terminal. Progress and warnings go
    // through a callback or a stream the caller passes; verbs that relay a container's I/O take
    // the streams from the caller (src/verbs/README.md).
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: {
      'no-console': ['error'],
      'no-restricted-properties': [
        'error',
        ...['stdin', 'stdout', 'stderr'].map((property) => ({
          object: 'process',
          property,
          message: 'only src/cli names the terminal: return data, or take the stream or a callback from the caller',
        })),
      ],
    },
  },
  {
    // The CLI stays thin: no file system and no system calls there (docs/architecture.md).
    files: ['src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'node:fs', message: 'src/cli is thin: do file work in src/run, src/image or src/build' },
            { name: 'node:fs/promises', message: 'src/cli is thin: do file work in src/run, src/image or src/build' },
            { name: 'node:child_process', message: 'src/cli is thin' },
          ],
          patterns: [{ group: ['**/native.js'], message: 'only src/run, src/image and src/build call the addon' }],
        },
      ],
    },
  },
);
