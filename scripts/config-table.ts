/** Prints the README's configuration table from src/config.ts (run: npx tsx scripts/config-table.ts). */
import { VARIABLES } from '../src/config.js';

console.log('| Variable | Default | Meaning |');
console.log('|---|---|---|');
for (const [name, spec] of Object.entries(VARIABLES) as [string, { default?: string; doc: string; secret?: boolean }][]) {
  const def = spec.default !== undefined ? `\`${spec.default}\`` : '—';
  console.log(`| \`${name}\` | ${def} | ${spec.doc}${spec.secret ? ' (secret)' : ''} |`);
}
