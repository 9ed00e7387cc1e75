/**
 * CPU time and resident memory of another process, from /proc (Linux). CPU ticks are utime+stime in
 * clock ticks (SC_CLK_TCK = 100 on Linux x86/arm).
 */
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = 100;

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  return cpuSecondsIn(pid, 'both');
}

/** CPU seconds in user space, in the kernel (system calls: socket reads and writes, the loopback TCP path), or both. */
function cpuSecondsIn(pid: number, mode: CpuMode): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces: fields after it are counted from the closing parenthesis.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = mode === 'kernel' ? 0 : Number(rest[11]);
  const stime = mode === 'user' ? 0 : Number(rest[12]);
  return (utime + stime) / CLK_TCK;
}

type CpuMode = 'both' | 'user' | 'kernel';

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}

/** Samples RSS of `pid` (with `tree`: plus every process below it) every `intervalMs` and keeps the peak. */
export class RssSampler {
  peak = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly pid: number, private readonly intervalMs = 250, private readonly tree = false) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
  }

  private sample(): void {
    try {
      this.peak = Math.max(this.peak, this.tree ? treeRssBytes(this.pid) : rssBytes(this.pid));
    } catch {
      // The process is gone; keep the peak seen.
    }
  }
}

/** Seconds the process's threads spent runnable but waiting for a CPU (the OS scheduler's queue), all threads. */
export function runQueueWaitSeconds(pid: number): number | null {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const fields = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/);
      total += Number(fields[1] ?? 0);
    }
    return total / 1e9;
  } catch {
    return null;
  }
}

/** `pid` and every process below it (a PROCESSES > 1 primary and its workers), from /proc (Linux). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/**
 * CPU seconds of `pid` and every process below it (live ones, plus children it has reaped: cutime/cstime);
 * `mode` 'kernel' counts only the time in system calls.
 */
export function treeCpuSeconds(pid: number, mode: CpuMode = 'both'): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      total += cpuSecondsIn(p, mode);
    } catch {
      // exited between the listing and the read
    }
  }
  try {
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = rest.slice(rest.lastIndexOf(')') + 2).split(' ');
    // cutime + cstime: workers that died and were reaped
    total += ((mode === 'kernel' ? 0 : Number(f[13])) + (mode === 'user' ? 0 : Number(f[14]))) / CLK_TCK;
  } catch {
    // gone
  }
  return total;
}

/** Resident memory of `pid` and every process below it, in bytes. */
export function treeRssBytes(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      total += rssBytes(p);
    } catch {
      // gone
    }
  }
  return total;
}

/** Run-queue wait of `pid` and every process below it (see runQueueWaitSeconds). */
export function treeRunQueueWaitSeconds(pid: number): number | null {
  let total = 0;
  let any = false;
  for (const p of processTree(pid)) {
    const w = runQueueWaitSeconds(p);
    if (w !== null) {
      total += w;
      any = true;
    }
  }
  return any ? total : null;
}
