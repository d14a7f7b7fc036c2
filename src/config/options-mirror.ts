import { opt, invalid } from './options-types.js';

function parseCidr(raw: unknown): string {
  if (typeof raw !== 'string' || !/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(raw)) invalid('must be an address range such as 127.0.0.0/8 or ::1/128');
  return raw;
}

function parseMirrorSpec(raw: unknown): string {
  if (typeof raw !== 'string') invalid('must be ORIGIN[:PREFIX]');
  const m = /^(https?:\/\/[^/\s]+)(\/\S*)?$/.exec(raw);
  if (!m) invalid('must be an origin URL optionally followed by a path prefix, such as http://www.example.com/docs/');
  return raw;
}

// The entry formats are checked again (with the same rules) where the credentials are loaded.
const NAME = '[A-Za-z0-9._@-]{1,64}';
function parseTokenEntry(raw: unknown): string {
  if (typeof raw !== 'string' || !new RegExp(`^${NAME}:sha256:[0-9a-f]{64}$`).test(raw)) invalid('must be NAME:sha256:HEX, the 64 lower-case hex digits of the SHA-256 of the token (peerweb mirror credential --token NAME makes one)');
  return raw;
}
function parseUserEntry(raw: unknown): string {
  if (typeof raw !== 'string' || !new RegExp(`^${NAME}:scrypt:\\d{1,2}:\\d{1,2}:\\d{1,2}:[A-Za-z0-9_-]{22,}:[A-Za-z0-9_-]{43}$`).test(raw)) invalid('must be NAME:scrypt:LOG2N:R:P:SALT:HASH (peerweb mirror credential --user NAME makes one)');
  return raw;
}
function parseNodeUrl(raw: unknown): string {
  if (typeof raw !== 'string' || !/^https?:\/\/[^/\s]+\/?$/.test(raw)) invalid('must be the base URL of a node, such as http://cache.example:8080');
  return raw;
}

/** Options of the origin front (publish), mirrors, audits and the verifying client. */
export const mirrorOptions = {
  'mirror.publish': opt.bool({ default: false, flag: 'publish', doc: 'Act as origin front: add Repr-Digest, ETag, Digest, mirror links and Metalink documents, and accept mirror offers.' }),
  'mirror.serve': opt.optionalString({ flag: 'serve', doc: 'Serve this folder as the origin (instead of --origin URL).' }),
  'mirror.key': opt.optionalString({ flag: 'publisher-key', doc: 'Publisher private key file (PEM, from peerweb keygen) used to sign the mirror map and pushes.' }),
  'mirror.publicBase': opt.optionalUrl({ flag: 'public-base', doc: 'Public URL of this node, used in links it hands out (Metalink, mirror map, offers).' }),
  'mirror.pieceSize': opt.size({ default: 1024 * 1024, min: 16 * 1024, max: 64 * 1024 * 1024, doc: 'Piece length of Metalink piece hashes.' }),
  'mirror.pieceThreshold': opt.size({ default: 4 * 1024 * 1024, min: 0, doc: 'Representations larger than this get piece hashes and a Metalink link.' }),
  'mirror.maxObjectSize': opt.size({ default: 1024 ** 3, min: 0, doc: 'Largest file offered for mirroring, held by a mirror or fetched by peerweb get into memory per piece.' }),
  'mirror.policy': opt.enumOf({ default: 'open', values: ['open', 'allow-list', 'closed'] as const, doc: 'Which mirror offers the origin accepts: any, only those in mirror.allow, or none.' }),
  'mirror.allow': opt.list({ default: [], item: 'URL prefix', parseItem: (v) => { if (typeof v !== 'string' || !/^https?:\/\//.test(v)) invalid('must be an http(s) URL prefix'); return v; }, doc: 'Mirror base URLs (prefixes) accepted under the allow-list policy.' }),
  'mirror.maxMirrors': opt.int({ default: 32, min: 0, max: 1000, doc: 'Cap on listed mirrors per origin.' }),
  'mirror.auditInterval': opt.duration({ default: 300_000, min: 1000, doc: 'Time between scheduled audits of each mirror.' }),
  'mirror.auditRanges': opt.int({ default: 3, min: 1, max: 64, doc: 'Random byte ranges checked per audit.' }),
  'mirror.auditProxies': opt.list({ default: [], item: 'proxy URL', parseItem: (v) => { if (typeof v !== 'string' || !/^http:\/\//.test(v)) invalid('must be an http:// proxy URL'); return v; }, doc: 'Third-party peers (forward proxies) through which some audits are sent, so a mirror cannot tell audits from readers.' }),
  'mirror.mirror': opt.list({ default: [], item: 'ORIGIN[:PREFIX]', parseItem: parseMirrorSpec, multiple: true, flag: 'mirror', doc: 'Mirror this origin (optionally only a path prefix); the node offers itself with Will-Mirror and syncs.' }),
  'mirror.fetchFromMirrors': opt.bool({ default: false, flag: 'fetch-from-mirrors', doc: 'On a GET miss, ask the origin for the digest and live mirrors (HEAD with List-Mirrors) and fetch the body from a mirror, verified before it is stored; the origin sends headers only. Costs one HEAD per miss, so turn it on for mirrored sites.' }),
  'mirror.originKey': opt.optionalString({ flag: 'origin-key', doc: 'Public key (base64 p= value or PEM file) of the mirrored origin, pinned instead of looked up in DNS; pushes must be signed with it.' }),
  'mirror.rate': opt.number({ default: 50, min: 0, doc: 'Requests per second allowed per outside client address (0: unlimited).' }),
  'mirror.burst': opt.int({ default: 100, min: 1, doc: 'Requests a client may send at once before mirror.rate applies.' }),
  'mirror.globalRate': opt.number({ default: 2000, min: 0, doc: 'Requests per second a mirror serves to all outside clients together (0: unlimited).' }),
  'mirror.allowClients': opt.list({ default: [], item: 'address range', parseItem: parseCidr, doc: 'When set, only clients from these ranges may read from the mirror (or, with mirror.clients.tokens or mirror.clients.users set, clients with valid credentials).' }),
  'mirror.clients.tokens': opt.list({ default: [], item: 'NAME:sha256:HEX', parseItem: parseTokenEntry, doc: 'Bearer tokens that let a client read from the mirror, stored as the SHA-256 of each token (never the token). With address ranges (mirror.allowClients) too, a client is let in when either matches.' }),
  'mirror.clients.users': opt.list({ default: [], item: 'NAME:scrypt:LOG2N:R:P:SALT:HASH', parseItem: parseUserEntry, doc: 'Basic-auth users that may read from the mirror, each with an scrypt hash of the password (never the password); each user and token gets its own rate-limit bucket.' }),
  'mirror.delistCooldown': opt.duration({ default: 24 * 3600_000, min: 1000, doc: 'After a failed audit, how long the origin refuses new offers from the same mirror host (every base on it); then it may offer again and is audited before it is listed.' }),
  'mirror.delistPoll': opt.duration({ default: 300_000, min: 1000, doc: 'How often a mirror or a node with fetch-from-mirrors fetches the signed delisting notices of the origins it knows (pushed notices arrive at once; this is the fallback).' }),
  'mirror.notify': opt.list({ default: [], item: 'node URL', parseItem: parseNodeUrl, doc: 'Nodes (base URLs) an origin front sends every signed delisting notice to, besides its mirrors and the nodes that subscribed.' }),
  'mirror.exemptClients': opt.list({ default: ['127.0.0.0/8', '::1/128'], item: 'address range', parseItem: parseCidr, doc: 'Clients not subject to rate limits (the origin and local tools).' }),
} as const;
