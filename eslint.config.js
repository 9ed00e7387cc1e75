import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Layers, lowest first. A folder may import its own layer and any below it, never one above; type-only imports
 * may cross (interfaces are contracts, not dependencies). The README's architecture map states the same order.
 */
const LAYERS = [
  ['util', 'audio'],
  ['db'],
  ['jobs', 'webhooks'],
  ['providers'],
  ['bots', 'bookings', 'outcomes', 'knowledge', 'call', 'scenario', 'analytics', 'usage', 'audit', 'privacy', 'export', 'safety', 'recordings'],
  ['telephony', 'campaigns'],
  ['api', 'web'],
];
// Files at src/ top level that every layer may use (configuration, logging, errors, prompts, secrets).
const above = (i) => LAYERS.slice(i + 1).flat();
const layerRules = LAYERS.flatMap((folders, i) =>
  above(i).length === 0
    ? []
    : folders.map((folder) => ({
        files: [`src/${folder}/**/*.ts`],
        rules: {
          '@typescript-eslint/no-restricted-imports': ['error', {
            patterns: [
              {
                group: above(i).flatMap((f) => [`**/${f}/*`, `**/${f}/**`]),
                allowTypeImports: true,
                message: `src/${folder} is below that folder in the layering (see eslint.config.js and the README's architecture map): move the shared piece down or pass it in.`,
              },
              {
                group: ['**/app.js', '**/server.js', '**/main.js', '**/cluster.js'],
                message: 'Only the composition root (app.ts, server.ts, main.ts) wires services together.',
              },
            ],
          }],
        },
      })),
);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'src/web/public/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    // Type-aware rules for the server: a promise nobody awaits or catches is a crash waiting in a real-time loop.
    files: ['src/**/*.ts', 'scripts/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
    },
  },
  ...layerRules,
  {
    files: ['scripts/**', 'tests/**'],
    rules: { 'no-console': 'off' },
  },
);
