/**
 * A path that exists under other methods is a 405 with an `Allow` header (RFC 9110 §15.5.6), not a 404: a client
 * that sent DELETE where only GET and PATCH exist learns what it can do instead of "no such route". Fastify's own
 * router answers only "no route for this method", so the routes are mirrored, path by path, into a second
 * find-my-way router (the one Fastify uses) that is asked only when a request found nothing.
 */
import type { FastifyInstance } from 'fastify';
import FindMyWay from 'find-my-way';

export type AllowedMethods = (method: string, url: string) => string[];

const noop = (): void => {};

/** Call before any route is added; the answer lists the methods the request's path has (none: a true 404). */
export function trackAllowedMethods(app: FastifyInstance): AllowedMethods {
  const router = FindMyWay({ ignoreTrailingSlash: app.initialConfig.ignoreTrailingSlash ?? false, maxParamLength: app.initialConfig.maxParamLength ?? 100 });
  const methodsByPath = new Map<string, Set<string>>();
  /** Every method some route has, in the order first seen. */
  const methodsInUse = new Set<string>();
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const methods = methodsByPath.get(route.url) ?? new Set<string>();
      if (methods.has(method)) continue; // a second route of the same method and path differs only by constraints
      methods.add(method);
      methodsByPath.set(route.url, methods);
      methodsInUse.add(method);
      router.on(method as FindMyWay.HTTPMethod, route.url, noop);
    }
  });
  return (method, url) => {
    const path = url.split('?')[0]!;
    const allowed: string[] = [];
    for (const candidate of methodsInUse) {
      if (candidate !== method && router.find(candidate as FindMyWay.HTTPMethod, path)) allowed.push(candidate);
    }
    return allowed;
  };
}
