/**
 * The company's webhook URL as a key may see it. The URL is a setting (`settings:read`): it may carry the receiver's
 * own secret (`?token=…`, a path segment). A key without that scope sees where deliveries go — the origin — and no
 * more. Used wherever the URL leaves the server: the delivery attempts (src/api/routes/webhooks.ts) and the export.
 */
export function webhookUrlShown(url: string, withSettingsRead: boolean): string {
  if (withSettingsRead) return url;
  try {
    return `${new URL(url).origin}/…`;
  } catch {
    return '…';
  }
}
