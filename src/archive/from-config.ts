import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { dnsKeyResolver, pinnedKeyResolver } from '../directory/index.js';
import type { KeyResolver } from './manifest.js';
import { createArchiveManager, type ArchiveManager, type HolderDirectory } from './manager.js';

/** Publisher keys for a node: pins from `archive.pinnedKeys`, else DNS through `archive.dnsServer`. */
export function keyResolverFromConfig(config: Config): KeyResolver {
  return pinnedKeyResolver(config['archive.pinnedKeys'], dnsKeyResolver({ server: config['archive.dnsServer'], timeout: config['archive.dnsTimeout'] }));
}

/** The archive side of a node, from its config (`archive.sites`, limits, policy); pass the node's directory to find and register holders. */
export function archiveManagerFromConfig(config: Config, opts: { directory?: HolderDirectory; trust?: KeyResolver } = {}): ArchiveManager {
  const holderUrl = config['archive.holderUrl'];
  return createArchiveManager({
    sites: config['archive.sites'],
    trust: opts.trust ?? keyResolverFromConfig(config),
    dataDir: join(config.data, 'archives'),
    policy: { fullFetchMaxSize: config['archive.fullFetchMaxSize'], fullFetchAfterRequests: config['archive.fullFetchAfterRequests'] },
    refreshAfter: config['archive.refresh'],
    timeout: config['upstream.headersTimeout'],
    open: {
      clockSkew: config['archive.clockSkew'],
      maxManifestSize: config['archive.maxManifestSize'],
      zip: { maxEntries: config['archive.maxEntries'], maxEntrySize: config['archive.maxEntrySize'], maxRatio: config['archive.maxRatio'] },
      sandbox: {
        memory: config['sandbox.memory'], cpuTime: config['sandbox.cpuTime'], wallTime: config['sandbox.wallTime'],
        maxResponse: config['sandbox.maxResponse'], pool: config['sandbox.pool'], queue: config['sandbox.queue'],
      },
    },
    ...(opts.directory ? { directory: opts.directory } : {}),
    ...(holderUrl ? { selfUrl: holderUrl } : {}),
    registrationTtl: config['directory.defaultTtl'],
  });
}
