import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { sileroInstalled } from '../../src/providers/vad/silero.js';

describe('sileroInstalled', () => {
  it('finds the model and onnxruntime\'s native binding without loading onnxruntime', () => {
    expect(sileroInstalled()).toBe(true);
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('onnxruntime'));
    expect(loaded).toEqual([]);
  });

  it('says no when the model file is missing', () => {
    expect(sileroInstalled('/nonexistent/silero_vad_v5.onnx')).toBe(false);
  });
});
