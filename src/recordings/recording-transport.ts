/**
 * A CallTransport that records: the caller's frames (onAudio) and the bot's audio (sendAudio, with clear()
 * dropping what was not played) go to a CallAudioRecorder on their way through; everything else is the wrapped
 * transport's. The call loop cannot tell it from the transport it wraps.
 */
import type { CallTransport, TransportHandlers, TransportNotice } from '../telephony/transport.js';
import type { CallAudioRecorder } from './call-audio-recorder.js';

export class RecordingTransport implements CallTransport {
  readonly kind: CallTransport['kind'];
  readonly inputFormat: CallTransport['inputFormat'];
  readonly outputFormat: CallTransport['outputFormat'];

  constructor(private readonly inner: CallTransport, private readonly recorder: CallAudioRecorder) {
    this.kind = inner.kind;
    this.inputFormat = inner.inputFormat;
    this.outputFormat = inner.outputFormat;
  }

  attach(handlers: TransportHandlers): void {
    const recorder = this.recorder;
    this.inner.attach({
      ...handlers,
      onAudio(frame: Uint8Array): void {
        recorder.caller(frame);
        handlers.onAudio(frame);
      },
    });
  }

  sendAudio(chunk: Uint8Array): void {
    this.recorder.bot(chunk);
    this.inner.sendAudio(chunk);
  }

  clear(): void {
    this.recorder.clear();
    this.inner.clear();
  }

  sendMark(name: string): void {
    this.inner.sendMark(name);
  }

  get pendingBytes(): number {
    return this.inner.pendingBytes;
  }

  notify(event: TransportNotice): void {
    this.inner.notify(event);
  }

  hangup(reason: string): Promise<void> {
    return this.inner.hangup(reason);
  }

  transfer(to: string): Promise<void> {
    return this.inner.transfer(to);
  }
}
