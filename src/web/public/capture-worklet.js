// Microphone → 16 kHz PCM16 frames of 20 ms (320 samples), posted to the page as transferable ArrayBuffers.
// When the AudioContext does not run at 16 kHz, the input is low-passed (two cascaded moving averages the
// length of the decimation ratio) and resampled by linear interpolation.
const FRAME_SAMPLES = 320;

class ParleyCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const target = (options.processorOptions && options.processorOptions.targetRate) || 16000;
    this.ratio = sampleRate / target;
    this.boxLength = Math.max(1, Math.round(this.ratio));
    this.box1 = new Float32Array(this.boxLength);
    this.box2 = new Float32Array(this.boxLength);
    this.sum1 = 0;
    this.sum2 = 0;
    this.boxIndex = 0;
    this.n = 0;
    this.next = 0;
    this.last = 0;
    this.frame = new Int16Array(FRAME_SAMPLES);
    this.fill = 0;
  }

  push(value) {
    const v = value * 32768;
    this.frame[this.fill++] = v >= 32767 ? 32767 : v <= -32768 ? -32768 : Math.round(v);
    if (this.fill === FRAME_SAMPLES) {
      const buffer = this.frame.buffer;
      this.port.postMessage(buffer, [buffer]);
      this.frame = new Int16Array(FRAME_SAMPLES);
      this.fill = 0;
    }
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    const L = this.boxLength;
    for (let i = 0; i < channel.length; i++) {
      let x = channel[i];
      if (L > 1) {
        const k = this.boxIndex;
        this.sum1 += x - this.box1[k];
        this.box1[k] = x;
        x = this.sum1 / L;
        this.sum2 += x - this.box2[k];
        this.box2[k] = x;
        x = this.sum2 / L;
        this.boxIndex = k + 1 === L ? 0 : k + 1;
      }
      // Output samples whose position falls in (n - 1, n].
      while (this.next <= this.n) {
        const frac = this.next - (this.n - 1);
        this.push(this.last + (x - this.last) * frac);
        this.next += this.ratio;
      }
      this.last = x;
      this.n++;
    }
    return true;
  }
}

registerProcessor('parley-capture', ParleyCapture);
