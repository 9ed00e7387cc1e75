/**
 * The scopes an API key can hold: `*`, each resource's actions that some route checks, and `<resource>:*` for all
 * of a resource's. Only scopes a route checks are grantable: a key minted with `analytics:write`, which no route
 * asks for, opened nothing while its list said otherwise — it is a 400 now, naming the scopes there are. A route
 * may only ask for a scope of this list (app.ts refuses to register one that asks for another), so the two cannot
 * drift apart: a new action is added here with the route that checks it.
 */
const ACTIONS = {
  bots: ['read', 'write'],
  calls: ['read', 'write'],
  knowledge: ['read', 'write'],
  bookings: ['read', 'write'],
  webhooks: ['read', 'write'],
  settings: ['read', 'write'],
  keys: ['read', 'write'],
  analytics: ['read'],
  usage: ['read'],
  audit: ['read'],
  privacy: ['read', 'write'],
  export: ['read'],
  campaigns: ['read', 'write'],
  contacts: ['read', 'write'],
  dnc: ['read', 'write'],
  recordings: ['read'],
} as const satisfies Record<string, readonly ('read' | 'write')[]>;

export type Resource = keyof typeof ACTIONS;
export const RESOURCES = Object.keys(ACTIONS) as Resource[];

/** Scopes a route checks (`bots:read`): never `*` nor a wildcard, which only keys hold. */
export const ROUTE_SCOPES: readonly string[] = RESOURCES.flatMap((r) => ACTIONS[r].map((a) => `${r}:${a}`));

/** Every scope a key may be given. */
export const SCOPES: readonly string[] = ['*', ...RESOURCES.flatMap((r) => [...ACTIONS[r].map((a) => `${r}:${a}`), `${r}:*`])];
