/**
 * Finds NotificationResponse messages ('A': int32 process id, channel, payload, both NUL-terminated) in a
 * PostgreSQL backend's output as it streams out in chunks of any size. The embedded database's thread runs it
 * over every answer PGlite sends its socket clients (pglite-worker.ts): PGlite raises a notification in the
 * answer of the transaction that committed it, where no client listens, and delivers none to its own listeners.
 *
 * It only walks the messages' headers (type byte, int32 length) and skips their bodies, so a result of many rows
 * costs a few operations per row. One scanner reads one answer, which starts at a message boundary; output that
 * is not a message stream (the single-byte reply to an SSL request) makes it stop looking, never throw.
 */
const NOTIFICATION = 0x41; // 'A'
/** PostgreSQL caps a payload at 8,000 bytes and a channel at 63; anything longer is not a notification. */
const MAX_NOTIFICATION_BYTES = 16_384;
/** Any message longer than PGlite's 2 GB of memory could hold means the stream is not what it seems. */
const MAX_MESSAGE_BYTES = 0x7fff_ffff;

export type OnNotification = (channel: string, payload: string) => void;

export class NotificationScanner {
  private readonly header = new Uint8Array(5);
  private headerFill = 0;
  /** Body bytes of the current message still to come; 0 = the next byte starts a header. */
  private remaining = 0;
  /** The current notification's body, collected; null while skipping any other message. */
  private body: Uint8Array | null = null;
  private bodyFill = 0;
  private lost = false;

  constructor(private readonly onNotification: OnNotification) {}

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length && !this.lost) {
      if (this.remaining === 0) {
        const take = Math.min(5 - this.headerFill, chunk.length - i);
        this.header.set(chunk.subarray(i, i + take), this.headerFill);
        this.headerFill += take;
        i += take;
        if (this.headerFill < 5) return;
        this.headerFill = 0;
        this.startMessage();
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - i);
      if (this.body) this.body.set(chunk.subarray(i, i + take), this.bodyFill);
      this.bodyFill += take;
      this.remaining -= take;
      i += take;
      if (this.remaining === 0 && this.body) this.finishNotification(this.body);
    }
  }

  private startMessage(): void {
    const h = this.header;
    const length = ((h[1]! << 24) | (h[2]! << 16) | (h[3]! << 8) | h[4]!) >>> 0;
    if (length < 4 || length > MAX_MESSAGE_BYTES) {
      this.lost = true;
      return;
    }
    this.remaining = length - 4;
    this.bodyFill = 0;
    this.body = h[0] === NOTIFICATION && this.remaining > 4 && this.remaining <= MAX_NOTIFICATION_BYTES ? new Uint8Array(this.remaining) : null;
  }

  private finishNotification(body: Uint8Array): void {
    this.body = null;
    const channelEnd = body.indexOf(0, 4);
    const payloadEnd = channelEnd < 0 ? -1 : body.indexOf(0, channelEnd + 1);
    if (payloadEnd < 0) return;
    const text = new TextDecoder();
    this.onNotification(text.decode(body.subarray(4, channelEnd)), text.decode(body.subarray(channelEnd + 1, payloadEnd)));
  }
}
