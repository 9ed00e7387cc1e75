import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { affinityOf, pinProcessTree } from '../../scripts/bench/lib/pin-database.js';
import { processTree } from '../../scripts/bench/lib/proc-stats.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** taskset prints "0-1" or "0,1": the CPUs as a list of numbers. */
const cpuList = (s: string): number[] =>
  s.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, i) => a! + i);
  });

describe('bench:calls --pin: a database server\'s process tree moved and put back', () => {
  const started: Array<ReturnType<typeof spawn>> = [];
  afterEach(() => {
    for (const p of started) p.kill('SIGKILL');
  });

  it('pins the root and its children to the CPUs given, then restores what each had', async () => {
    // A stand-in for a postmaster: a shell with two children.
    const root = spawn('sh', ['-c', 'sleep 30 & sleep 30 & wait'], { stdio: 'ignore', detached: true });
    started.push(root);
    for (let i = 0; i < 50 && processTree(root.pid!).length < 3; i++) await sleep(20);
    const tree = processTree(root.pid!);
    expect(tree).toHaveLength(3);
    const original = new Map(tree.map((pid) => [pid, cpuList(affinityOf(pid))]));
    const target = String(availableParallelism() - 1);

    const pinned = pinProcessTree(root.pid!, target);
    expect(pinned.processes).toBe(3);
    for (const pid of tree) expect(cpuList(affinityOf(pid))).toEqual([Number(target)]);

    pinned.restore();
    for (const pid of tree) expect(cpuList(affinityOf(pid))).toEqual(original.get(pid));
    process.kill(-root.pid!, 'SIGKILL');
  });

  it('throws where the root is not there to move', () => {
    expect(() => pinProcessTree(2 ** 22 + 12345, '0')).toThrow();
  });
});
