/**
 * The canonical spelling of an IANA time zone, the one way every zone Parley is given is checked and stored or echoed
 * (GET /v1/analytics and /v1/usage, campaign contacts, a bot's booking.timezone). Zones are matched without regard
 * to case ("utc", "Europe/berlin" are valid), so what was sent is not what should be shown.
 *
 * Intl.DateTimeFormat's resolvedOptions().timeZone gives the spelling, but this Node's ICU also swaps some current
 * names for older ones ("Asia/Kolkata" → "Asia/Calcutta", "Europe/Kyiv" → "Europe/Kiev"): a name the tz database
 * lists (zone.tab's, country-zones.ts) keeps its own spelling; any other link is shown as the zone it stands for
 * ("US/Eastern" → "America/New_York").
 */
import { IANAZone } from 'luxon';
import { COUNTRY_ZONES } from './country-zones.js';

let spellings: Map<string, string> | null = null;

/** Known zone names by their lower-case form; zone.tab's spelling wins over ICU's. */
function knownSpellings(): Map<string, string> {
  if (!spellings) {
    spellings = new Map();
    for (const zone of ['UTC', ...Intl.supportedValuesOf('timeZone'), ...Object.values(COUNTRY_ZONES).flat()]) spellings.set(zone.toLowerCase(), zone);
  }
  return spellings;
}

/**
 * Each known name's answer (lower-case form → its spelling, or null where this Node's ICU lacks it), remembered: the
 * check builds an Intl.DateTimeFormat (luxon), and campaigns ask it of a contact's zones at every dial decision.
 * Bounded by the known names; any other name is checked afresh each time.
 */
const knownAnswers = new Map<string, string | null>();

/** The canonical spelling of `zone` ("utc" → "UTC", "Europe/berlin" → "Europe/Berlin"); null when it is not a zone. */
export function canonicalZone(zone: string): string | null {
  if (zone.length === 0 || zone.length > 64) return null;
  const lower = zone.toLowerCase();
  const known = knownSpellings().get(lower);
  if (known) {
    let answer = knownAnswers.get(lower);
    if (answer === undefined) knownAnswers.set(lower, (answer = IANAZone.isValidZone(known) ? known : null));
    return answer;
  }
  if (!IANAZone.isValidZone(zone)) return null;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}
