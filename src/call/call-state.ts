/**
 * The call's state, and what the client is told of it. States: greeting → listening ⇄ thinking → speaking ⇄
 * paused → listening …; wrapping-up → ended. The wire knows four: greeting and wrapping-up are speaking, a
 * pause is listening; a notice goes out when the wire state changes (and on every return to listening).
 */
import type { CallTransport } from '../telephony/transport.js';

export type CallState = 'greeting' | 'listening' | 'thinking' | 'speaking' | 'paused' | 'wrapping-up' | 'ended';
type WireState = 'listening' | 'thinking' | 'speaking' | 'ended';

const wire = (s: CallState): WireState => (s === 'greeting' || s === 'wrapping-up' ? 'speaking' : s === 'paused' ? 'listening' : s);

export class CallStateMachine {
  state: CallState = 'listening';

  constructor(private readonly transport: CallTransport) {}

  set(next: CallState): void {
    if (this.state === 'ended' || (this.state === next && next !== 'listening')) return;
    const changed = wire(this.state) !== wire(next);
    this.state = next;
    if (changed || next === 'listening') this.transport.notify({ type: 'state', state: wire(next) });
  }
}
