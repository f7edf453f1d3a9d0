// Imported first by the SDK bundle, so it runs before any schema exists: zod decides whether
// to compile object schemas (its `new Function` probe) as each one is created.
import { config } from 'zod';

config({ jitless: true });
