// Tasks the Flyte stand-in serves: copies of the conformance fixtures (test/fixtures/tasks/
// conformance.mjs) as a Flyte cluster would run them, typed-interface tasks, and the guide's
// task-runner example. Each attempt's phases are scripted (see FlyteStandin).
import { ActionPhase } from '../../src/tasks/executors/flyte/idl.js';
import { lit, read, t } from './flyte-literals.js';
import { type StandinTask, starting } from './flyte-standin.js';

const fixture = { project: 'test', domain: 'fixtures', version: 'v1' };

/** `value` of the echo fixture: whatever JSON the suite sends (a dict, an int or a str). */
const anyValue = t.union([t.anyDict, 'Typed Dict'], [t.int, 'int'], [t.float, 'float'], [t.str, 'str']);

/** The conformance fixtures, as Flyte tasks. */
export const conformanceTasks: StandinTask[] = [
  {
    ...fixture,
    name: 'echo',
    inputs: [
      ['value', anyValue],
      ['steps', t.int, lit.int(2)],
    ],
    outputs: [
      ['value', anyValue],
      ['thread', t.int],
      ['attempt', t.int],
    ],
    async behave(ctx) {
      starting(ctx);
      return {
        outputs: {
          value: ctx.inputs.get('value') ?? lit.none(),
          thread: lit.int(0),
          attempt: lit.int(ctx.attempt),
        },
      };
    },
  },
  ...['sleep', 'spin'].map(
    (name): StandinTask => ({
      ...fixture,
      name,
      inputs: [['ms', t.int]],
      outputs: [['slept', t.int]],
      async behave(ctx) {
        starting(ctx);
        await ctx.sleep(read.int(ctx.inputs.get('ms')));
        return { outputs: { slept: ctx.inputs.get('ms') ?? lit.int(0) } };
      },
    }),
  ),
  {
    ...fixture,
    name: 'flaky',
    retries: 2,
    inputs: [['succeedOn', t.int]],
    outputs: [['attempt', t.int]],
    async behave(ctx) {
      starting(ctx);
      if (ctx.attempt < read.int(ctx.inputs.get('succeedOn'))) {
        return { error: { kind: 'USER', message: `flaky failure on attempt ${ctx.attempt}` } };
      }
      return { outputs: { attempt: lit.int(ctx.attempt) } };
    },
  },
  {
    ...fixture,
    name: 'slow',
    inputs: [['ms', t.int]],
    outputs: [['slept', t.int]],
    async behave(ctx) {
      starting(ctx);
      const ms = read.int(ctx.inputs.get('ms'));
      await ctx.sleep(Math.min(ms, 300));
      if (ms > 300)
        return { error: { kind: 'USER', message: 'timed out after 300 ms' }, phase: ActionPhase.TIMED_OUT };
      return { outputs: { slept: lit.int(ms) } };
    },
  },
  {
    ...fixture,
    name: 'bad-outputs',
    inputs: [],
    outputs: [['count', t.float]],
    async behave(ctx) {
      starting(ctx);
      return { outputs: { count: lit.str('many') } };
    },
  },
  {
    ...fixture,
    name: 'crash',
    inputs: [],
    outputs: [],
    async behave(ctx) {
      starting(ctx);
      return { error: { kind: 'SYSTEM', message: "the task's container was OOM-killed (exit code 137)" } };
    },
  },
  {
    ...fixture,
    name: 'boom',
    inputs: [['message', t.str, lit.str('boom')]],
    outputs: [],
    async behave(ctx) {
      starting(ctx);
      return { error: { kind: 'USER', message: read.str(ctx.inputs.get('message')) } };
    },
  },
];

/**
 * The guide's task (`remote.TaskDetails.fetch(project, domain, name, version)` then
 * `flyte.run(task, **inputs)`): greets someone after a few slow phases.
 */
export const sayHello: StandinTask = {
  project: 'flytesnacks',
  domain: 'development',
  name: 'hello.say_hello',
  version: 'v1',
  description: 'Says hello, slowly.',
  inputs: [
    ['name', t.str],
    ['times', t.int, lit.int(1)],
  ],
  outputs: [['o0', t.str]],
  async behave(ctx) {
    ctx.phase(ActionPhase.WAITING_FOR_RESOURCES);
    await ctx.sleep(30);
    ctx.phase(ActionPhase.INITIALIZING);
    await ctx.sleep(30);
    ctx.phase(ActionPhase.RUNNING);
    await ctx.sleep(60);
    const name = read.str(ctx.inputs.get('name'));
    return { outputs: { o0: lit.str(`Hello, ${name}!`.repeat(read.int(ctx.inputs.get('times')))) } };
  },
};
