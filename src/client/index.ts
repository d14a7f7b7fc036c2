export { getVerified, rangeSizeFor, type GetOptions, type GetResult, type GetEvent, type Source, type Verification } from './get.js';
export { fetchVerifiedBody } from './fetch-body.js';
export { publisherKeysFromDns, parseDnsServer, type DnsKeyOptions } from './origin-keys.js';
