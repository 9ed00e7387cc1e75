/**
 * Keypad digits as one caller turn: digits are collected until `#`, KEYPAD_MAX_DIGITS, or a pause of
 * KEYPAD_GAP_MS, so a number keyed in ("2125550100#") becomes "[keypad] 2125550100".
 */
import type { CallTimers } from './timers.js';

const KEYPAD_GAP_MS = 1500;
const KEYPAD_MAX_DIGITS = 20;

export class KeypadEntry {
  private digits = '';

  constructor(
    private readonly timers: CallTimers,
    private readonly onEntry: (text: string) => void,
  ) {}

  key(digit: string): void {
    if (digit !== '#') this.digits += digit;
    if (digit === '#' || this.digits.length >= KEYPAD_MAX_DIGITS) return this.flush();
    this.timers.set('keypad', KEYPAD_GAP_MS, () => this.flush());
  }

  private flush(): void {
    this.timers.clear('keypad');
    const digits = this.digits;
    this.digits = '';
    if (digits) this.onEntry(`[keypad] ${digits}`);
  }
}
