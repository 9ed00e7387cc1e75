/**
 * The embedded database's thread reads notifications out of the answers it streams to its clients
 * (src/db/notification-scanner.ts): every NotificationResponse, wherever the stream's chunks split it, and
 * nothing that is not one.
 */
import { describe, expect, it } from 'vitest';
import { NotificationScanner } from '../../src/db/notification-scanner.js';

/** One backend message: type byte, int32 length (itself included), body. */
function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}
const notification = (channel: string, payload: string, pid = 42): Buffer => {
  const pidBytes = Buffer.alloc(4);
  pidBytes.writeUInt32BE(pid);
  return message('A', Buffer.concat([pidBytes, Buffer.from(`${channel}\0${payload}\0`)]));
};
/** A data row whose bytes look like a notification: only the header says what a message is. */
const lookalikeRow = message('D', Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 20]), notification('fake', 'row').subarray(0, 20)]));
const answer = Buffer.concat([
  message('1', Buffer.alloc(0)),
  lookalikeRow,
  message('C', Buffer.from('SELECT 1\0')),
  notification('parley_work', 'job:analyze_call'),
  notification('parley_work', 'webhooks — ünïcode'),
  message('Z', Buffer.from('I')),
]);

function scan(chunks: Uint8Array[]): string[] {
  const heard: string[] = [];
  const scanner = new NotificationScanner((channel, payload) => heard.push(`${channel}:${payload}`));
  for (const chunk of chunks) scanner.push(chunk);
  return heard;
}

describe('NotificationScanner', () => {
  it('finds each notification in an answer, and nothing in a row that only looks like one', () => {
    expect(scan([answer])).toEqual(['parley_work:job:analyze_call', 'parley_work:webhooks — ünïcode']);
  });

  it('finds the same wherever the answer is split into two or three chunks', () => {
    for (let a = 1; a < answer.length; a++) {
      expect(scan([answer.subarray(0, a), answer.subarray(a)])).toHaveLength(2);
      const b = Math.min(answer.length, a + 3);
      expect(scan([answer.subarray(0, a), answer.subarray(a, b), answer.subarray(b)])).toHaveLength(2);
    }
    expect(scan([...answer].map((byte) => Uint8Array.of(byte)))).toHaveLength(2);
  });

  it('stops looking, without throwing, at output that is not a message stream', () => {
    expect(scan([Buffer.from('N')])).toEqual([]); // the single-byte answer to an SSL request
    expect(scan([Buffer.from([0x41, 0, 0, 0, 1]), notification('parley_work', 'after garbage')])).toEqual([]);
    const truncated = notification('parley_work', 'cut').subarray(0, 12);
    expect(scan([truncated])).toEqual([]);
  });
});
