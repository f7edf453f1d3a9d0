// What bounding JSON depth costs where frames enter: `parseJson` (depth + prototype-key
// checks) against plain `JSON.parse` on the same text, and `decodeCommand` (the whole /rt
// frame decode, which now parses with `parseJson`) against JSON.parse + the same zod check,
// on a small /rt publish and on 64 KiB frames of three shapes. Batches of the two alternate
// (21 rounds); the ratio is the median of the per-round ratios. Run: npm run bench:json
import { decodeCommand, parseJson, rtCommandSchema } from '../src/protocol/index.js';

const ROUNDS = 21;

const frame = (data: unknown) => JSON.stringify({ op: 'publish', id: 17, channel: 'chat:lobby', data });

/** Grows `make(i)` items until the frame is just under 64 KiB. */
function frame64k(make: (i: number) => unknown): string {
  const items: unknown[] = [];
  for (let i = 0; ; i += 1) {
    items.push(make(i));
    if (frame(items).length > 64 * 1024 - 200) {
      items.pop();
      return frame(items);
    }
  }
}

const cases: [string, string][] = [
  ['small /rt publish', frame({ text: 'hello there, how are you?', user: 'alice' })],
  [
    '64 KiB of objects',
    frame64k((i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'], at: { x: i, y: [i, i] } })),
  ],
  ['64 KiB of numbers', frame64k((i) => i * 1.5)],
  ['64 KiB of text', frame(`${'lorem ipsum dolor sit amet, '.repeat(2400)}`)],
];

/** Calls per batch so that one batch of `fn(text)` takes about `ms` milliseconds. */
function calibrate(fn: (text: string) => unknown, text: string, ms: number): number {
  let n = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < n; i += 1) fn(text);
    if (performance.now() - start >= ms) return n;
    n *= 2;
  }
}

/** ns per call of each function: batches alternate (a, b, a, b…) so both see the same load. */
function compare(a: (text: string) => unknown, b: (text: string) => unknown, text: string) {
  const n = Math.max(calibrate(a, text, 20), calibrate(b, text, 20));
  const timesA: number[] = [];
  const timesB: number[] = [];
  const ratios: number[] = [];
  // CPU time of this process, not wall time: other load on the machine disturbs it less.
  const batch = (fn: (text: string) => unknown) => {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i += 1) fn(text);
    const used = process.cpuUsage(start);
    return ((used.user + used.system) * 1000) / n;
  };
  for (let r = 0; r < ROUNDS; r += 1) {
    // Alternate which goes first, so neither always runs on a warmer cache.
    let ta: number;
    let tb: number;
    if (r % 2 === 0) {
      ta = batch(a);
      tb = batch(b);
    } else {
      tb = batch(b);
      ta = batch(a);
    }
    timesA.push(ta);
    timesB.push(tb);
    ratios.push(tb / ta);
  }
  return { a: median(timesA), b: median(timesB), ratio: median(ratios) };
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;

const plainDecode = (text: string) => rtCommandSchema.safeParse(JSON.parse(text));
const us = (ns: number) => `${(ns / 1000).toFixed(2)} µs`.padStart(10);

console.log(
  `${'frame'.padEnd(20)} ${'bytes'.padStart(6)}  JSON.parse  parseJson  ratio   old decode  decode  ratio`,
);
for (const [name, text] of cases) {
  const parse = compare(
    (t) => JSON.parse(t),
    (t) => parseJson(t, { what: 'frame' }),
    text,
  );
  const decode = compare(plainDecode, (t) => decodeCommand(t), text);
  console.log(
    `${name.padEnd(20)} ${String(text.length).padStart(6)}  ${us(parse.a)} ${us(parse.b)}  ${parse.ratio.toFixed(2)}×  ${us(decode.a)} ${us(decode.b)}  ${decode.ratio.toFixed(2)}×`,
  );
}
