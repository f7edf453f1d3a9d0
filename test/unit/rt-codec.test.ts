import { describe, expect, it } from 'vitest';
import { channelNamespace, decodeCommand, isChannelName, RT_OPS } from '../../src/protocol/index.js';

function error(text: string) {
  const d = decodeCommand(text);
  if (d.ok) throw new Error('decoded');
  return { id: d.id, code: d.error.code, message: d.error.message, details: d.error.details };
}

describe('decodeCommand', () => {
  it('decodes every command op', () => {
    const samples: Record<(typeof RT_OPS)[number], Record<string, unknown>> = {
      subscribe: { channel: 'chat:a', since: { epoch: 'e', offset: 0 } },
      unsubscribe: { channel: 'chat:a' },
      publish: { channel: 'chat:a', data: null },
      history: { channel: 'chat:a', limit: 1000 },
      presence: { channel: 'chat:a' },
      run: { project: 'p', domain: 'd', task: 't', version: 'v' },
      cancel: { run: 'r-1' },
      refresh: { token: 't' },
      ping: {},
    };
    for (const op of RT_OPS) {
      const d = decodeCommand(JSON.stringify({ op, id: 0, ...samples[op] }));
      expect(d.ok, op).toBe(true);
      if (d.ok) expect(d.command.op).toBe(op);
    }
    const run = decodeCommand('{"op":"run","id":1,"project":"p","domain":"d","task":"t","version":"v"}');
    expect(run.ok && run.command.op === 'run' && run.command.inputs).toEqual({});
  });

  it('accepts null and false as data but not a missing data', () => {
    expect(decodeCommand('{"op":"publish","id":1,"channel":"chat:a","data":false}').ok).toBe(true);
    expect(error('{"op":"publish","id":1,"channel":"chat:a"}')).toMatchObject({
      id: 1,
      code: 'invalid_message',
    });
  });

  it('keeps the id of a broken command whenever it is usable', () => {
    expect(error('{"op":"nope","id":7}')).toMatchObject({ id: 7, code: 'unknown_op' });
    expect(error('{"op":"subscribe","id":8}')).toMatchObject({ id: 8, code: 'invalid_message' });
    expect(error('{"op":"ping","id":"8"}')).toMatchObject({ id: undefined, code: 'invalid_message' });
    expect(error('{"op":"ping","id":-1}').id).toBeUndefined();
    expect(error('{"op":42,"id":3}')).toMatchObject({ id: 3, code: 'invalid_message' });
    expect(error('null')).toMatchObject({ id: undefined, code: 'invalid_message' });
    expect(error('"text"')).toMatchObject({ code: 'invalid_message' });
    expect(error('{')).toMatchObject({ id: undefined, code: 'invalid_json' });
  });

  it('refuses frames nested too deep or with prototype keys, still answering their id', () => {
    const deep = `{"op":"publish","id":4,"channel":"chat:a","data":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    expect(error(deep)).toMatchObject({ id: 4, code: 'json_too_deep', details: { maxDepth: 64 } });
    const three = '{"op":"publish","id":5,"channel":"chat:a","data":[[1]]}';
    expect(decodeCommand(three, 3).ok).toBe(true);
    const refused = decodeCommand(three, 2);
    expect(refused.ok || { id: refused.id, code: refused.error.code }).toEqual({
      id: 5,
      code: 'json_too_deep',
    });
    expect(error('{"op":"publish","id":6,"channel":"chat:a","data":{"__proto__":{"x":1}}}')).toMatchObject({
      id: 6,
      code: 'invalid_message',
      details: { key: '__proto__' },
    });
    expect(error(`[${'['.repeat(100)}${']'.repeat(100)}]`)).toMatchObject({
      id: undefined,
      code: 'json_too_deep',
    });
  });

  it('names a bad channel bad_channel, and lists every bad field otherwise', () => {
    expect(error('{"op":"subscribe","id":1,"channel":"a b"}')).toMatchObject({ id: 1, code: 'bad_channel' });
    expect(error(`{"op":"subscribe","id":1,"channel":"chat:${'x'.repeat(300)}"}`).code).toBe('bad_channel');
    const many = error('{"op":"history","id":2,"channel":"a b","limit":5000,"extra":1}');
    expect(many.code).toBe('invalid_message');
    expect((many.details as { path: string }[]).map((d) => d.path).sort()).toEqual(['', 'channel', 'limit']);
  });

  it('trims a long unknown op in the message', () => {
    expect(error(JSON.stringify({ op: 'x'.repeat(1000), id: 1 })).message.length).toBeLessThan(200);
  });
});

describe('channel names', () => {
  it('accepts namespaces with and without a name', () => {
    for (const ok of [
      'broadcast',
      'chat:lobby',
      'run:r-9f3k_A',
      'a.b-c_d:x:y=z@w',
      'x'.repeat(64),
      `a:${'x'.repeat(198)}`,
    ]) {
      expect(isChannelName(ok), ok).toBe(true);
    }
  });

  it('refuses empty parts, other characters and over-long names', () => {
    for (const bad of [
      '',
      ':',
      'chat:',
      ':lobby',
      'a b',
      'chat:a b',
      'chat:ü',
      '$presence:chat:a',
      'a/b',
      'x'.repeat(65),
      `a:${'x'.repeat(199)}`,
    ]) {
      expect(isChannelName(bad), bad).toBe(false);
    }
  });

  it('splits off the namespace', () => {
    expect(channelNamespace('chat:lobby:x')).toBe('chat');
    expect(channelNamespace('broadcast')).toBe('broadcast');
  });
});
