export { getVerified, type GetOptions, type GetResult, type GetEvent, type Source } from './get.js';
export { fetchVerifiedBody } from './fetch-body.js';
