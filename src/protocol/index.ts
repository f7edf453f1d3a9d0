/**
 * The wire protocol: message shapes, close codes, error catalog and limits. No I/O and no
 * Node-only imports, so the browser client shares it.
 */
export * from './channels.js';
export * from './close-codes.js';
export * from './errors.js';
export * from './json.js';
export * from './limits.js';
export * from './rt.js';
export * from './rt-codec.js';
export * from './runs.js';
