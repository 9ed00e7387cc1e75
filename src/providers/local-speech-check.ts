/**
 * Which offline speech parts this machine has, so the server can start without them and say exactly what to
 * install. Never throws.
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { sileroInstalled } from './vad/silero.js';

export interface LocalSpeechStatus {
  tts: { flite: boolean; espeak: boolean };
  stt: { pocketsphinx: boolean; model: boolean };
  vad: { silero: boolean };
  /** Debian packages to install for what is missing (empty when all is there). */
  missing: string[];
  /** The command that installs them, or null. */
  installCommand: string | null;
}

export interface LocalSpeechCheckOptions {
  /** Directories searched for the binaries. Default: the process PATH (what spawn() uses). */
  searchPath?: string;
  /** pocketsphinx-en-us acoustic model directory. */
  modelDir?: string;
  /** Language model and dictionary files that must exist next to it. */
  modelFiles?: string[];
  /**
   * Also check that the Silero VAD model and onnxruntime's native binding are installed (on disk, not loaded:
   * loading would keep ~25 MB of onnxruntime mapped in a server whose bots may never use it). Default true.
   */
  checkVad?: boolean;
}

const DEFAULT_MODEL_ROOT = '/usr/share/pocketsphinx/model/en-us';

async function exists(path: string, mode = constants.R_OK): Promise<boolean> {
  try {
    await access(path, mode);
    return true;
  } catch {
    return false;
  }
}

async function onPath(binary: string, searchPath: string): Promise<boolean> {
  for (const dir of searchPath.split(delimiter)) {
    if (dir && (await exists(join(dir, binary), constants.X_OK))) return true;
  }
  return false;
}

export async function checkLocalSpeech(options: LocalSpeechCheckOptions = {}): Promise<LocalSpeechStatus> {
  const searchPath = options.searchPath ?? process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin';
  const modelDir = options.modelDir ?? join(DEFAULT_MODEL_ROOT, 'en-us');
  const modelFiles = options.modelFiles ?? [join(DEFAULT_MODEL_ROOT, 'en-us.lm.bin'), join(DEFAULT_MODEL_ROOT, 'cmudict-en-us.dict')];
  const [flite, espeak, pocketsphinx, modelParts, silero] = await Promise.all([
    onPath('flite', searchPath),
    onPath('espeak-ng', searchPath),
    onPath('pocketsphinx_continuous', searchPath),
    Promise.all([join(modelDir, 'mdef'), join(modelDir, 'means'), ...modelFiles].map((f) => exists(f))),
    Promise.resolve(options.checkVad !== false && sileroInstalled()),
  ]);
  const model = modelParts.every(Boolean);
  const missing: string[] = [];
  if (!flite) missing.push('flite');
  if (!espeak) missing.push('espeak-ng');
  if (!pocketsphinx) missing.push('pocketsphinx');
  if (!model) missing.push('pocketsphinx-en-us');
  return {
    tts: { flite, espeak },
    stt: { pocketsphinx, model },
    vad: { silero },
    missing,
    installCommand: missing.length > 0 ? `apt-get install -y ${missing.join(' ')}` : null,
  };
}
