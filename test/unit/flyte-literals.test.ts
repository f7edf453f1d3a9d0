import { equals } from '@bufbuild/protobuf';
import { decode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { type Literal, LiteralSchema } from '../../src/tasks/executors/flyte/idl.js';
import { typeName } from '../../src/tasks/executors/flyte/literal-types.js';
import { fromLiteral, LiteralMismatch, toLiteral } from '../../src/tasks/executors/flyte/literals.js';
import {
  type FlyteTaskInterface,
  inputsToLiterals,
  outputsToJson,
} from '../../src/tasks/executors/flyte/task-interface.js';
import { lit, t } from '../support/flyte-literals.js';

const same = (a: Literal, b: Literal) => expect(equals(LiteralSchema, a, b)).toBe(true);

function misfits(fn: () => unknown): { path: string[]; message: string }[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof LiteralMismatch) return err.misfits;
    throw err;
  }
  throw new Error('no mismatch');
}

const order = t.model({
  title: 'Order',
  type: 'object',
  properties: {
    sku: { type: 'string', title: 'Sku' },
    qty: { type: 'integer', title: 'Qty' },
    note: { anyOf: [{ type: 'string' }, { type: 'null' }], default: null },
    lines: { type: 'array', items: { $ref: '#/$defs/Line' } },
  },
  required: ['sku', 'qty'],
  $defs: { Line: { type: 'object', title: 'Line', properties: { n: { type: 'number' } }, required: ['n'] } },
});

describe('Flyte literals: JSON to literals as the Python SDK encodes them', () => {
  it('encodes the simple types', () => {
    same(toLiteral(5, t.int), lit.int(5));
    same(toLiteral('9007199254740993', t.int), lit.int(9007199254740993n));
    same(toLiteral(2, t.float), lit.float(2));
    same(toLiteral(2.5, t.float), lit.float(2.5));
    same(toLiteral('hi', t.str), lit.str('hi'));
    same(toLiteral(true, t.bool), lit.bool(true));
    same(toLiteral(null, t.none), lit.none());
  });

  it('encodes datetimes (ISO 8601, any offset, nanoseconds) and timedeltas (seconds or ISO 8601)', () => {
    same(toLiteral('2026-01-02T03:04:05Z', t.datetime), lit.datetime(Date.parse('2026-01-02T03:04:05Z')));
    same(
      toLiteral('2026-01-02T05:04:05+02:00', t.datetime),
      lit.datetime(Date.parse('2026-01-02T03:04:05Z')),
    );
    const precise = toLiteral('2026-01-02T03:04:05.123456789Z', t.datetime);
    expect(fromLiteral(precise)).toBe('2026-01-02T03:04:05.123456789Z');
    same(toLiteral(90.5, t.timedelta), lit.duration(90, 500_000_000));
    same(toLiteral('PT1H30M', t.timedelta), lit.duration(5400));
    same(toLiteral('P1DT1S', t.timedelta), lit.duration(86401));
    expect(misfits(() => toLiteral('2026-13-45', t.datetime))[0]?.message).toMatch(
      /expected datetime \(an ISO 8601/,
    );
    expect(misfits(() => toLiteral('soon', t.timedelta))[0]?.message).toMatch(/expected timedelta/);
  });

  it('encodes lists, dicts, enums and Optionals (tagged union variants)', () => {
    same(toLiteral([1, 2], t.list(t.int)), lit.list(lit.int(1), lit.int(2)));
    same(toLiteral({ a: 1.5 }, t.dict(t.float)), lit.map({ a: lit.float(1.5) }));
    same(toLiteral('high', t.enum('low', 'high')), lit.str('high'));
    const optional = t.optional(t.int, 'int');
    const variants = optional.type.case === 'unionType' ? optional.type.value.variants : [];
    same(toLiteral(3, optional), lit.union(lit.int(3), variants[0] as never));
    same(toLiteral(null, optional), lit.union(lit.none(), variants[1] as never));
    // an integer prefers the int variant, as the SDK picks the value's own type first
    const numbers = t.union([t.float, 'float'], [t.int, 'int']);
    const v = toLiteral(4, numbers);
    expect(
      v.value.case === 'scalar' &&
        v.value.value.value.case === 'union' &&
        v.value.value.value.value.type?.structure?.tag,
    ).toBe('int');
  });

  it('encodes dataclasses / pydantic models and untyped dicts as MessagePack, checked by their JSON Schema', () => {
    const value = { sku: 'A-1', qty: 2, lines: [{ n: 1.5 }] };
    const encoded = toLiteral(value, order);
    same(encoded, lit.msgpack(value));
    const bin =
      encoded.value.case === 'scalar' && encoded.value.value.value.case === 'binary'
        ? encoded.value.value.value.value
        : undefined;
    expect(bin?.tag).toBe('msgpack');
    expect(decode(bin?.value ?? new Uint8Array())).toEqual(value);
    expect(fromLiteral(encoded)).toEqual(value);
    same(toLiteral({ any: ['thing'] }, t.anyDict), lit.msgpack({ any: ['thing'] }));
    expect(misfits(() => toLiteral({ sku: 'A', qty: 'two', lines: [{}] }, order, ['order']))).toEqual([
      { path: ['order', 'qty'], message: 'expected int, got "two"' },
      { path: ['order', 'lines', '0', 'n'], message: 'required field (float) is missing' },
    ]);
    expect(misfits(() => toLiteral({ qty: 1 }, order, ['order']))[0]).toEqual({
      path: ['order', 'sku'],
      message: 'required field (str) is missing',
    });
  });

  it('names the expected type and the value when something does not fit', () => {
    expect(misfits(() => toLiteral('abc', t.int, ['n']))).toEqual([
      { path: ['n'], message: 'expected int, got "abc"' },
    ]);
    expect(misfits(() => toLiteral(1.5, t.int, ['n']))[0]?.message).toBe('expected int, got 1.5');
    expect(misfits(() => toLiteral(true, t.float, ['x']))[0]?.message).toBe('expected float, got true');
    expect(misfits(() => toLiteral([1, 'b'], t.list(t.int), ['xs']))).toEqual([
      { path: ['xs', '1'], message: 'expected int, got "b"' },
    ]);
    expect(misfits(() => toLiteral('medium', t.enum('low', 'high'), ['level']))[0]?.message).toBe(
      "expected enum('low', 'high'), got \"medium\"",
    );
    expect(misfits(() => toLiteral('x', t.optional(t.int, 'int'), ['o']))[0]?.message).toBe(
      'expected Optional[int], got "x"',
    );
    expect(typeName(t.dict(t.list(t.str)))).toBe('dict[str, list[str]]');
    expect(typeName(order)).toBe('Order (dataclass/pydantic)');
  });
});

describe('Flyte literals: a task interface', () => {
  const task: FlyteTaskInterface = {
    org: 'o',
    project: 'p',
    domain: 'd',
    name: 'greet',
    version: 'v1',
    inputs: [
      { name: 'name', type: t.str },
      { name: 'times', type: t.int, default: lit.int(1) },
      { name: 'when', type: t.optional(t.datetime, 'datetime') },
    ],
    outputs: [
      { name: 'o0', type: t.str },
      { name: 'count', type: t.int },
    ],
    retries: 0,
  };

  it('fills defaults and None for Optionals, and refuses unknown, missing and wrong inputs together', () => {
    const literals = inputsToLiterals(task, { name: 'Ada' });
    expect(literals.map((l) => l.name)).toEqual(['name', 'times', 'when']);
    same(literals[1]?.value as Literal, lit.int(1));
    expect(fromLiteral(literals[2]?.value)).toBeNull();
    expect(misfits(() => inputsToLiterals(task, { times: 'x', colour: 'red' }))).toEqual([
      { path: ['colour'], message: 'greet has no input colour (it takes name, times, when)' },
      { path: ['name'], message: 'required input name (str) is missing' },
      { path: ['times'], message: 'expected int, got "x"' },
    ]);
  });

  it('reads outputs back to JSON, checked against the declared types', () => {
    const outputs = {
      literals: [
        { name: 'o0', value: lit.str('hi') },
        { name: 'count', value: lit.int(2) },
      ],
    };
    expect(outputsToJson(task, outputs as never)).toEqual({ o0: 'hi', count: 2 });
    const wrong = { literals: [{ name: 'o0', value: lit.int(1) }] };
    expect(misfits(() => outputsToJson(task, wrong as never))).toEqual([
      { path: ['o0'], message: 'expected str, got 1' },
      { path: ['count'], message: 'output count (int) is missing' },
    ]);
  });
});
