import { defineErrors } from './registry.js';

/** Codes of cooperating caches: ICP, parents, siblings and cache arrays. */
export const peersErrors = defineErrors({
  PW_ERR_ICP_BIND: { status: 0, message: 'ICP endpoint cannot listen on {address}: {reason}', doc: 'The UDP port for ICP is taken, not permitted, or the host is not an IP address; pick another --icp address.' },
  PW_ERR_PEER_CONFIG: { status: 0, message: 'Peer {peer} is misconfigured: {reason}', doc: 'A sibling, parent or array member has a bad host, port, role or weight, or two peers share a name.' },
  PW_ERR_PEER_NONE_ALIVE: { status: 503, message: 'No parent is reachable for {url} and going direct is not allowed', doc: 'peers.neverDirect is set and every parent is marked dead; the request fails until a parent answers again.' },
});
