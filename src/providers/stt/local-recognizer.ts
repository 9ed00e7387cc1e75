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

export interface Recognition {
  text: string;
  /** Mean posterior probability of the last two words (null when no word carried one). */
  confidence: number | null;
}

/** A word line of `-time yes` output: word, start, end, posterior. */
const WORD_LINE = /^(\S+) (\d+\.\d+) (\d+\.\d+) (-?\d+(?:\.\d+)?)$/;
/** Markers and fillers that are not words of the caller's. */
const NOT_A_WORD = /^(<s>|<\/s>|<sil>|\[.*\]|\+\+.*\+\+)$/;

/** The hypothesis lines and, from the word lines, the confidence in the final words. */
export function parseRecognition(stdout: string): Recognition {
  const text: string[] = [];
  const posteriors: number[] = [];
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const word = WORD_LINE.exec(line);
    if (!word) {
      text.push(line);
      continue;
    }
    if (!NOT_A_WORD.test(word[1]!)) posteriors.push(Math.min(1, Math.max(0, Number(word[4]))));
  }
  const last = posteriors.slice(-2);
  return { text: text.join(' '), confidence: last.length ? last.reduce((a, b) => a + b, 0) / last.length : null };
}

export class RecognizerError extends Error {
  /**
   * `recoverable`: a timeout on a busy machine is worth another session; a missing binary or model is not.
   * `missing`: the recognizer binary is not there, so no decode of any audio can succeed (no retry is worth it).
   */
  constructor(
    message: string,
    readonly recoverable = false,
    readonly missing = false,
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
      // -time yes: each word also on its own line with its times and posterior probability (the confidence).
      ['-c', 'cat | exec "$0" "$@"', options.binary, '-infile', '/dev/stdin', '-logfn', '/dev/null', '-time', 'yes', ...options.args],
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

  /** Ends the audio and resolves with what was recognized (text '' when nothing was). */
  async finish(): Promise<Recognition> {
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
        throw new RecognizerError(`pocketsphinx failed: ${reason}`, false, code === 127);
      }
      return parseRecognition(stdout);
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
