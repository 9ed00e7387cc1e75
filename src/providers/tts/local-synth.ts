/**
 * One synthesis = one child process: espeak-ng writes its WAV to stdout; flite writes to a temporary file, because
 * Node's stdio pipes are sockets and flite cannot open /dev/stdout on a socket.
 * Text goes in argv for flite (no shell involved) and on stdin for espeak-ng.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWav, wavToPcm16 } from '../../audio/wav.js';

export type LocalTtsEngine = 'flite' | 'espeak';

export interface SynthesisRequest {
  engine: LocalTtsEngine;
  text: string;
  /** flite voice name (slt, rms, awb, kal16 …) or espeak-ng voice (ru, en-us …). */
  voice: string;
  binary: string;
  timeoutMs: number;
}

export interface Synthesis {
  /** Mono PCM16 at the engine's own rate. Rejects on failure or kill. */
  readonly result: Promise<{ samples: Int16Array; sampleRate: number }>;
  kill(): void;
}

export class SynthesisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SynthesisError';
  }
}

export function synthesize(request: SynthesisRequest): Synthesis {
  const outFile = request.engine === 'flite' ? join(tmpdir(), `parley-flite-${randomUUID()}.wav`) : null;
  const args = outFile
    ? ['-voice', request.voice, '-t', request.text, '-o', outFile]
    : ['--stdout', '--stdin', '-v', request.voice];
  let child: ChildProcess | null = null;
  let killed = false;
  const result = new Promise<{ samples: Int16Array; sampleRate: number }>((resolve, reject) => {
    child = spawn(request.binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    const timer = setTimeout(() => {
      child?.kill('SIGKILL');
      reject(new SynthesisError(`${request.engine} timed out after ${request.timeoutMs} ms`));
    }, request.timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 500) stderr += chunk.toString();
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new SynthesisError(`${request.engine} could not start (${request.binary}): ${error.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      void (async () => {
        try {
          if (killed) throw new SynthesisError(`${request.engine} was cancelled`);
          if (code !== 0) throw new SynthesisError(`${request.engine} exited with ${code}: ${stderr.trim()}`);
          const bytes = outFile ? await readFile(outFile) : Buffer.concat(chunks);
          const wav = readWav(bytes);
          resolve({ samples: wavToPcm16(wav), sampleRate: wav.sampleRate });
        } catch (error) {
          reject(
            error instanceof SynthesisError
              ? error
              : new SynthesisError(`${request.engine} produced no readable WAV: ${(error as Error).message}`),
          );
        } finally {
          if (outFile) await unlink(outFile).catch(() => undefined);
        }
      })();
    });
    child.stdin!.on('error', () => undefined);
    if (request.engine === 'espeak') child.stdin!.end(request.text);
    else child.stdin!.end();
  });
  // A rejection nobody awaits (cancelled turn) must not crash the process.
  result.catch(() => undefined);
  return {
    result,
    kill: () => {
      if (killed) return;
      killed = true;
      (child as ChildProcess | null)?.kill('SIGKILL');
    },
  };
}
