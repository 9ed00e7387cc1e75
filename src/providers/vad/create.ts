/**
 * Picks the VAD: Silero when its model loads, otherwise the energy VAD with the same interface (logged once per
 * process, since a missing native binary will not fix itself between calls).
 */
import { EnergyVad, type EnergyVadOptions } from './energy.js';
import { loadSileroModel, SileroVad, type SileroModel } from './silero.js';
import type { VadLogger, VadOptions, VoiceActivityDetector } from './types.js';

export interface CreateVadOptions extends VadOptions {
  /** 'silero' (default) falls back to energy when the model cannot load. */
  engine?: 'silero' | 'energy';
  logger?: VadLogger;
  energy?: Omit<EnergyVadOptions, keyof VadOptions>;
  /** Override the model path (tests use a bad path to exercise the fallback). */
  modelPath?: string;
}

/** Load failures per model path: a missing native binary or model will not appear between calls. */
const failures = new Map<string, Error>();
let warned = false;

/** Each detector gets its own ONNX session: the recurrent state is per stream, and a session is small. */
async function modelFor(path: string | undefined): Promise<SileroModel> {
  const key = path ?? '';
  const failure = failures.get(key);
  if (failure) throw failure;
  try {
    return await loadSileroModel(path);
  } catch (error) {
    failures.set(key, error as Error);
    throw error;
  }
}

export async function createVad(options: CreateVadOptions): Promise<VoiceActivityDetector> {
  const { engine = 'silero', logger, energy, modelPath, ...vad } = options;
  if (engine === 'silero') {
    try {
      return new SileroVad(await modelFor(modelPath), vad);
    } catch (error) {
      if (!warned) {
        warned = true;
        logger?.warn(`Silero VAD unavailable (${(error as Error).message}); using the energy VAD`);
      }
    }
  }
  return new EnergyVad({ ...vad, ...energy });
}

/** Test hook: forget the cached model and the one-time warning. */
export function resetVadCache(): void {
  failures.clear();
  warned = false;
}
