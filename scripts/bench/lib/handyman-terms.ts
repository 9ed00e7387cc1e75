/** The keyterms of the handyman bot the speech benchmarks build language models for (wer.ts, names.ts). */
import { botKeyterms } from '../../../src/bookings/keyterms.js';

export const HANDYMAN_TERMS = botKeyterms({
  name: 'Handy Helpers',
  config: {
    booking: {
      timezone: 'America/New_York', hours: {},
      services: [
        { id: 'tv', name: 'TV mounting', aliases: ['TV on the wall'], durationMin: 60 },
        { id: 'tap', name: 'Tap repair', aliases: ['leaky faucet'], durationMin: 60 },
        { id: 'shelf', name: 'Shelf installation', aliases: ['shelves'], durationMin: 60 },
      ],
      resources: [{ id: 'mike', name: 'Mike', services: ['tv', 'tap', 'shelf'] }],
    },
  },
});
