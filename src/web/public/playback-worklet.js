// Bot audio playback: a queue of 16 kHz PCM16 chunks and marks. A mark is reported as played when every sample
// queued before it has been output; `clear` drops everything queued at once (barge-in). Resamples to the
// context rate by linear interpolation when it is not 16 kHz.
class ParleyPlayback extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const source = (options.processorOptions && options.processorOptions.sourceRate) || 16000;
    this.step = source / sampleRate;
    this.queue = [];
    this.pos = 0;
    this.played = 0;
    this.reported = 0;
    this.ticks = 0;
    this.port.onmessage = (event) => {
      const m = event.data;
      if (m.type === 'audio') {
        const pcm = new Int16Array(m.buffer);
        const samples = new Float32Array(pcm.length);
        for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
        if (samples.length > 0) this.queue.push({ samples });
      } else if (m.type === 'mark') {
        this.queue.push({ mark: m.name });
      } else if (m.type === 'clear') {
        this.queue.length = 0;
        this.pos = 0;
      }
    };
  }

  flushMarks() {
    while (this.queue.length > 0 && this.queue[0].mark !== undefined) {
      this.port.postMessage({ type: 'played', name: this.queue.shift().mark });
    }
  }

  process(_inputs, outputs) {
    const out = outputs[0] && outputs[0][0];
    if (!out) return true;
    for (let i = 0; i < out.length; i++) {
      this.flushMarks();
      const head = this.queue[0];
      if (!head) {
        out[i] = 0;
        continue;
      }
      const s = head.samples;
      const k = Math.floor(this.pos);
      const frac = this.pos - k;
      const a = s[k];
      const b = k + 1 < s.length ? s[k + 1] : a;
      out[i] = a + (b - a) * frac;
      this.pos += this.step;
      this.played += this.step;
      if (this.pos >= s.length) {
        this.pos -= s.length;
        this.queue.shift();
      }
    }
    this.flushMarks();
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    const played = Math.floor(this.played);
    if (played !== this.reported && (++this.ticks % 8 === 0 || this.queue.length === 0)) {
      this.reported = played;
      this.port.postMessage({ type: 'progress', playedSamples: played });
    }
    return true;
  }
}

registerProcessor('parley-playback', ParleyPlayback);
