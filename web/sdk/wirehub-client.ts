/**
 * The client SDK as one ES module for browsers, `/assets/wirehub-client.js` (built by
 * scripts/build-web.mjs). The bundle has its own copy of zod, set jitless first: otherwise
 * zod probes `new Function` as it creates object schemas, and a page whose CSP has no
 * 'unsafe-eval' (every wirehub page) reports that as a violation even though zod catches
 * the refusal.
 */
import '../../src/client/zod-jitless.js';

export * from '../../src/client/index.js';
