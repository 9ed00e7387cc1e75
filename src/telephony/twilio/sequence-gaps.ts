/**
 * Lost messages of one media stream. Twilio numbers every message of a stream (`sequenceNumber`, from 1, one more per
 * message: media, mark, dtmf…); a WebSocket loses nothing on the way, so a number skipped is a message Twilio never
 * sent — audio the caller said that the bot never heard. Counted on the hot path with two comparisons and no
 * allocation; stored once, at the call's end (calls.media_sequence_gaps, media_messages_lost), and counted in the
 * metrics then (parley_media_sequence_gaps_total, parley_media_messages_lost_total).
 */
export class SequenceGaps {
  /** Places where numbers were skipped. */
  gaps = 0;
  /** Numbers skipped, all gaps together: the messages lost. */
  lost = 0;
  /** The number the next message should carry; -1 before the first (the frames racing the start are dropped unseen). */
  private next = -1;

  /** A message's sequenceNumber (-1: it had none readable, not counted). A repeat or a late one changes nothing. */
  see(sequence: number): void {
    if (sequence < 0) return;
    if (this.next >= 0 && sequence > this.next) {
      this.gaps++;
      this.lost += sequence - this.next;
    }
    if (sequence >= this.next) this.next = sequence + 1;
  }
}
