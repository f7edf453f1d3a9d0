/** Constants of `/rt` that hold no schema, so the browser client can import them without zod. */

/** The WebSocket subprotocol of `/rt`. */
export const RT_SUBPROTOCOL = 'wirehub.v1';
