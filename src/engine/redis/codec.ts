import { storedJson } from '../publication.js';
import type { Origin, PresenceMember, Publication } from '../types.js';

/**
 * A publication as stored in a stream entry and carried over pub/sub: one JSON object with
 * short keys. Pub/sub messages of channels with history add `e` (epoch) and `o` (offset)
 * in front (the publish script splices them in, so the data is serialised once, by the
 * publishing node).
 */
interface Wire {
  /** id */
  i: string;
  /** at (ms since the Unix epoch) */
  t: number;
  /** data */
  d?: unknown;
  /** from */
  f?: Origin;
  /** epoch (pub/sub only) */
  e?: string;
  /** offset (pub/sub only) */
  o?: number;
}

/**
 * The payload of a publication: always a JSON object that starts with `{"i":`. Data that
 * cannot be serialised throws `json_too_deep` or `invalid_message` (see `storedJson`): it fails that publication
 * alone, before anything is sent to Redis.
 */
export function encodePayload(pub: Publication): string {
  const data = pub.data === undefined ? '' : `,"d":${storedJson(pub.data)}`;
  const from = pub.from ? `,"f":${JSON.stringify(pub.from)}` : '';
  return `{"i":${JSON.stringify(pub.id)},"t":${pub.at}${data}${from}}`;
}

function fromWire(channel: string, wire: Wire): Publication {
  const pub: Publication = { id: wire.i, channel, data: wire.d, at: wire.t };
  if (wire.f) pub.from = wire.f;
  return pub;
}

/** A pub/sub message of `channel` (with `epoch`/`offset` when the channel keeps history). */
export function decodeMessage(channel: string, text: string): Publication {
  const wire = JSON.parse(text) as Wire;
  const pub = fromWire(channel, wire);
  if (wire.e !== undefined && wire.o !== undefined) {
    pub.epoch = wire.e;
    pub.offset = wire.o;
  }
  return pub;
}

/** A stream entry as XRANGE returns it: `[id, [field, value, …]]`. */
export type StreamEntry = [string, string[]];

/** Publications of stream entries (entry id `<offset>-0`, field `p`), in the given order. */
export function decodeEntries(channel: string, epoch: string, entries: StreamEntry[]): Publication[] {
  const out: Publication[] = [];
  for (const [id, fields] of entries) {
    const at = fields.indexOf('p');
    const payload = at === -1 ? undefined : fields[at + 1];
    if (payload === undefined) continue;
    const pub = fromWire(channel, JSON.parse(payload) as Wire);
    pub.epoch = epoch;
    pub.offset = Number.parseInt(id, 10);
    out.push(pub);
  }
  return out;
}

export function encodeMember(member: PresenceMember): string {
  const out: PresenceMember = { client: member.client, connectedAt: member.connectedAt };
  if (member.user !== undefined) out.user = member.user;
  return JSON.stringify(out);
}

export function decodeMember(json: string): PresenceMember {
  return JSON.parse(json) as PresenceMember;
}
