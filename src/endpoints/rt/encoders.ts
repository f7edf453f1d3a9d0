import type { Publication } from '../../engine/types.js';
import { Frame } from '../../hub/frame.js';
import type { Encoder } from '../../hub/hub.js';
import type { RtMessagePush, RtPublication } from '../../protocol/index.js';

/** A publication as `/rt` shows it (in `message` pushes and in replies listing publications). */
export function toRtPublication(pub: Publication): RtPublication {
  if (pub.offset === undefined) {
    return pub.from
      ? { channel: pub.channel, data: pub.data, from: pub.from }
      : { channel: pub.channel, data: pub.data };
  }
  const out: RtPublication = { channel: pub.channel, epoch: pub.epoch, offset: pub.offset, data: pub.data };
  if (pub.from) out.from = pub.from;
  return out;
}

/**
 * `{"op":"message","channel","epoch?","offset?","data","from?"}`: built once per publication
 * and shared by every `/rt` subscriber of the channel.
 */
export const rtMessageEncoder: Encoder = {
  name: 'rt-message',
  encode(pub) {
    // Literal objects, not spreads: this runs once per publication on the fan-out path.
    let push: RtMessagePush;
    if (pub.offset === undefined) {
      push = { op: 'message', channel: pub.channel, data: pub.data };
    } else {
      push = { op: 'message', channel: pub.channel, epoch: pub.epoch, offset: pub.offset, data: pub.data };
    }
    if (pub.from) push.from = pub.from;
    return Frame.json(push);
  },
};

/** Join/leave events arrive already shaped as the `/rt` push (see `PresenceEvent`). */
export const rtPresenceEncoder: Encoder = {
  name: 'rt-presence',
  encode: (pub) => Frame.json(pub.data),
};
