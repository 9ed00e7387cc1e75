/**
 * Fastify compiles every route's request validators (ajv) and response serializers (fast-json-stringify) while the
 * server starts: with this API's routes that is about a third of a start's CPU (ajv and fast-json-stringify were
 * ~1 s of 3.5 CPU-s in a `--cpu-prof` of `npm start`), spent before /readyz can answer. Here each one is compiled
 * the first time its route uses it instead — a few milliseconds on that request — so a server is ready sooner and a
 * route nobody calls costs nothing.
 *
 * A schema that cannot compile would then fail on its route's first request rather than at start: `compileEvery()`
 * compiles all of them at once, for the test that checks every route's schemas (tests/unit/route-schemas-compile).
 */
import type { FastifyServerOptions } from 'fastify';

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type ValidatorBuilder = NonNullable<CompilersFactory['buildValidator']>;
type SerializerBuilder = NonNullable<CompilersFactory['buildSerializer']>;

/** Compilations not yet done, of every server built in this process; each removes itself once compiled. */
const pending = new Set<() => unknown>();

/** Runs `compile` on the first call of the returned function, which then stands for what it compiled. */
function onFirstUse<F extends (...args: never[]) => unknown>(compile: () => F): { call: F; compiled: () => F } {
  let fn: F | null = null;
  const compiled = (): F => {
    if (fn === null) {
      fn = compile();
      pending.delete(compiled);
    }
    return fn;
  };
  pending.add(compiled);
  const call = ((...args: never[]) => compiled()(...args)) as F;
  return { call, compiled };
}

/** Validators compiled on first use. Fastify reads `errors` from the validator after a failed call: passed through. */
export function lazyValidators(build: ValidatorBuilder): ValidatorBuilder {
  return (externalSchemas, ajvOptions) => {
    const compileFor = build(externalSchemas, ajvOptions);
    return (route) => {
      const { call, compiled } = onFirstUse(() => compileFor(route) as (data: unknown) => unknown);
      Object.defineProperty(call, 'errors', { get: () => (compiled() as { errors?: unknown }).errors });
      return call as ReturnType<ReturnType<ValidatorBuilder>>;
    };
  };
}

/** Response serializers compiled on first use. */
export function lazySerializers(build: SerializerBuilder): SerializerBuilder {
  return (externalSchemas, serializerOptions) => {
    const compileFor = build(externalSchemas, serializerOptions);
    return (route) => onFirstUse(() => compileFor(route) as (data: unknown) => string).call;
  };
}

/** Compiles every validator and serializer not compiled yet; throws what the first schema that cannot compile throws. */
export function compileEvery(): number {
  const all = [...pending];
  for (const compile of all) compile();
  return all.length;
}
