/**
 * Loaded with `--import` into the cache-tests client: lets its `import('undici')` (interim-response tests) find
 * this project's undici when the suite checkout has no node_modules of its own.
 */
import { register } from 'node:module';

let target: string | undefined;
try { target = import.meta.resolve('undici'); } catch { target = undefined; }
if (target) {
  const hook = 'export async function resolve(specifier, context, next) {' +
    ` if (specifier === 'undici') { try { return await next(specifier, context); } catch { return { url: ${JSON.stringify(target)}, shortCircuit: true }; } }` +
    ' return next(specifier, context); }';
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}
