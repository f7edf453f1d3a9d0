import type { Publication } from '../../engine/types.js';
import { Frame } from '../../hub/frame.js';
import type { Encoder } from '../../hub/hub.js';
import type { RtMessagePush, RtPublication, RtRunPush } from '../../protocol/index.js';
import type { RunUpdateShape } from '../run-feed.js';

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

/**
 * Runs started over `/rt` report as `run` pushes, live and replayed alike:
 * `{"op":"run","run","status","message","progress?","outputs?","error?"}`.
 */
export const rtRunUpdates: RunUpdateShape = (update) => {
  const push: RtRunPush = { op: 'run', run: update.run_id, status: update.status, message: update.message };
  if (update.progress !== undefined) push.progress = update.progress;
  if (update.outputs !== undefined) push.outputs = update.outputs;
  if (update.error !== undefined) push.error = update.error;
  return Frame.json(push);
};
