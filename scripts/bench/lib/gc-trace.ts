/**
 * Reads what gc-trace-preload.mjs wrote in the server's processes (`bench:calls --gc-trace`) and sets each full
 * collection beside the worst turns: does the tail come from the collector, or from queueing? A turn counts for a
 * collection when its largest hop began within `nearMs` of it (a collection's marking slows the loop for a while
 * before its final pause, and the backlog drains after).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface GcTraceEvent {
  /** Epoch ms. */
  at: number;
  what: 'gc' | 'gap';
  /** For gc: perf_hooks' kind (1 minor, 4 major, 8 incremental, 16 weak callbacks). */
  kind: number;
  /** The collection's pause, or how late the loop ran its 5 ms timer. */
  ms: number;
}

export interface FullCollection {
  at: number;
  pauseMs: number;
  /** The longest loop stall within nearMs of the collection. */
  loopHeldMs: number;
  /** Worst turns whose largest hop began within nearMs of it. */
  worstTurns: number;
}

export const MAJOR_GC = 4;

export function parseGcTrace(text: string): GcTraceEvent[] {
  const out: GcTraceEvent[] = [];
  for (const line of text.split('\n')) {
    const [at, what, a, b] = line.split(' ');
    if (what === 'gc' && b !== undefined) out.push({ at: Number(at), what, kind: Number(a), ms: Number(b) });
    else if (what === 'gap' && a !== undefined) out.push({ at: Number(at), what, kind: 0, ms: Number(a) });
  }
  return out.filter((e) => Number.isFinite(e.at) && Number.isFinite(e.ms));
}

/** The events of every process that wrote `<base>.<pid>`, in time order. */
export function readGcTraces(base: string): GcTraceEvent[] {
  const dir = dirname(base);
  const prefix = `${basename(base)}.`;
  const files = readdirSync(dir).filter((f) => f.startsWith(prefix) && /^\d+$/.test(f.slice(prefix.length)));
  return files.flatMap((f) => parseGcTrace(readFileSync(join(dir, f), 'utf8'))).sort((x, y) => x.at - y.at);
}

/** The full collections between `from` and `to` (epoch ms), each with the loop stall and the worst turns near it. */
export function fullCollections(events: GcTraceEvent[], worstAt: number[], from: number, to: number, nearMs = 300): FullCollection[] {
  const near = (a: number, b: number): boolean => Math.abs(a - b) <= nearMs;
  return events
    .filter((e) => e.what === 'gc' && e.kind === MAJOR_GC && e.at >= from && e.at <= to)
    .map((gc) => ({
      at: gc.at,
      pauseMs: gc.ms,
      loopHeldMs: Math.max(0, ...events.filter((e) => e.what === 'gap' && near(e.at, gc.at)).map((e) => e.ms)),
      worstTurns: worstAt.filter((t) => near(t, gc.at)).length,
    }));
}
