/**
 * One pocketsphinx_continuous process decoding one utterance of raw 16 kHz PCM16 fed on stdin.
 * Started before the utterance (model loading overlaps the caller's speech), fed while the caller speaks,
 * finished by closing stdin. pocketsphinx opens its -infile by path, and /dev/stdin on Node's stdio (a socket)
 * cannot be opened, so a `cat |` shell pipeline gives it a real pipe.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface RecognizerOptions {
  binary: string;
  /** Extra pocketsphinx arguments (-hmm, -lm, -dict, -fwdflat no …). */
  args: string[];
  /** Limit for decoding after the audio ends. */
  timeoutMs: number;
}

export class RecognizerError extends Error {
  /** A timeout on a busy machine is worth another session; a missing binary or model is not. */
  constructor(
    message: string,
    readonly recoverable = false,
  ) {
    super(message);
    this.name = 'RecognizerError';
  }
}

export class PocketsphinxProcess {
  private readonly child: ChildProcess;
  private readonly exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
  private killed = false;
  private finished = false;

  constructor(private readonly options: RecognizerOptions) {
    this.child = spawn(
      'sh',
      ['-c', 'cat | exec "$0" "$@"', options.binary, '-infile', '/dev/stdin', '-logfn', '/dev/null', ...options.args],
      // Own process group, so kill() reaches both cat and pocketsphinx.
      { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
    );
    this.child.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      let stdout = '';
      let stderr = '';
      this.child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      this.child.stderr!.on('data', (d: Buffer) => {
        if (stderr.length < 1000) stderr += d.toString();
      });
      this.child.on('error', (error) => resolve({ code: -1, stdout, stderr: error.message }));
      this.child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** Queues samples (copied, so the caller may reuse its array). */
  write(samples: Int16Array): void {
    if (this.finished || this.killed || samples.length === 0) return;
    this.child.stdin!.write(Buffer.from(samples.buffer.slice(samples.byteOffset, samples.byteOffset + samples.byteLength)));
  }

  /** Ends the audio and resolves with the recognized text ('' when nothing was recognized). */
  async finish(): Promise<string> {
    this.finished = true;
    this.child.stdin!.end();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill();
        reject(new RecognizerError(`pocketsphinx took longer than ${this.options.timeoutMs} ms`, true));
      }, this.options.timeoutMs);
    });
    try {
      const { code, stdout, stderr } = await Promise.race([this.exited, timeout]);
      if (this.killed) throw new RecognizerError('pocketsphinx was stopped');
      if (code !== 0) {
        const reason = code === 127 ? `${this.options.binary} not found` : stderr.trim() || `exit code ${code}`;
        throw new RecognizerError(`pocketsphinx failed: ${reason}`);
      }
      return stdout.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    if (this.killed) return;
    this.killed = true;
    try {
      if (this.child.pid) process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
