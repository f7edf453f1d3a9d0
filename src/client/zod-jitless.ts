// Imported first by the browser bundle of the SDK (web/sdk/wirehub-client.ts), never by the
// library itself: it sets the bundle's own zod jitless before any schema exists, as zod
// decides whether to compile object schemas (its `new Function` probe) when each is created.
import { config } from 'zod';

config({ jitless: true });
