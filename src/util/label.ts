/**
 * A name people read in lists and logs (a company's, a key's, a bot's, a campaign's, a booking's customer): no
 * control characters (an ESC sequence repaints an operator's terminal, a newline forges a line) and no Unicode
 * direction overrides or isolates, which make a list show other text than is stored (a key named
 * "\u202egnp.exe" reads as "exe.png").
 */
export const LABEL_PATTERN = '^[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$';
