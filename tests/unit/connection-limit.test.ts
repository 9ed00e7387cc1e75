import { describe, expect, it } from 'vitest';
import { connectionsForOpenFileLimit } from '../../src/connection-guard.js';

const limits = (soft: string, hard = '1048576') =>
  `Limit                     Soft Limit           Hard Limit           Units     \nMax processes             95480                95480                processes \nMax open files            ${soft}                 ${hard}              files     \n`;

describe('MAX_CONNECTIONS unset: from the open-file limit', () => {
  it('a quarter of the soft limit: a live call holds its socket and about three to its providers', () => {
    expect(connectionsForOpenFileLimit(limits('1024'))).toBe(256);
    expect(connectionsForOpenFileLimit(limits('65536'))).toBe(16_384);
    expect(connectionsForOpenFileLimit(limits('20000', '20000'))).toBe(5000);
  });

  it('never below 16; 800 where the limit cannot be read', () => {
    expect(connectionsForOpenFileLimit(limits('32'))).toBe(16);
    expect(connectionsForOpenFileLimit(null)).toBe(800);
    expect(connectionsForOpenFileLimit('no such line')).toBe(800);
  });
});
