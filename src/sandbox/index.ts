/** Runs archive handlers under limits: memory, CPU time, wall time; no network, files or clock but what is handed in. */
export { HandlerPool, DEFAULT_SANDBOX_LIMITS, moduleName, staticImports } from './pool.js';
export type { SandboxLimits, SandboxHost, HandlerRequest, HandlerResponse } from './pool.js';
