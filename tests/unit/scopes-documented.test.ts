/** Every scope a key can hold is in the README's list of scopes (a new resource's scope was missed before). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RESOURCES } from '../../src/api/scopes.js';

describe('API key scopes', () => {
  it('the README names every resource\'s scope', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('API keys look like'), readme.indexOf('`<resource>:*` for both'));
    for (const r of RESOURCES) expect(section, `README's scope list lacks ${r}`).toMatch(new RegExp(`\`${r}:(read|write)`));
  });
});
