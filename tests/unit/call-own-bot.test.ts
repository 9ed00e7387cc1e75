/**
 * `npm run call -- --to NUMBER` without `--api-key` answered "No --to/--api-key and no admin token" (it was given
 * --to), or with an admin token at hand called the demo company's key with the user's number ("no bot of this API key
 * has the number …"). The README says `--to NUMBER --api-key KEY` go together: one without the other now says so.
 */
import { describe, expect, it } from 'vitest';
import { ownBot } from '../../scripts/lib/demo.js';

describe('npm run call: which bot', () => {
  it('calls the demo bot with neither, your own with both', () => {
    expect(ownBot(undefined, undefined)).toBeNull();
    expect(ownBot('+15550100001', 'pk_x')).toEqual({ to: '+15550100001', apiKey: 'pk_x' });
  });

  it('refuses one without the other, saying what is missing', () => {
    expect(() => ownBot('+15550100001', undefined)).toThrow('--to +15550100001 needs --api-key KEY (or PARLEY_API_KEY): a key of the company whose bot has that number');
    expect(() => ownBot(undefined, 'pk_x')).toThrow('--api-key needs --to NUMBER, the number of your bot (without both, the demo bot is called)');
  });
});
