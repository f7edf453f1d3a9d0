import { describe } from 'vitest';
import { connectFlyte } from '../../src/tasks/executors/flyte/client.js';
import { resolveFlyteConfig } from '../../src/tasks/executors/flyte/config.js';
import { FlyteExecutor } from '../../src/tasks/executors/flyte/flyte-executor.js';
import { FlyteTasks } from '../../src/tasks/executors/flyte/flyte-tasks.js';
import { runExecutorConformance } from '../support/executor-conformance.js';
import { conformanceTasks } from '../support/flyte-fixtures.js';
import { FlyteStandin } from '../support/flyte-standin.js';

/** Runs the executor conformance suite against a Flyte stand-in speaking `httpVersion`. */
function conformance(httpVersion: '1.1' | '2') {
  runExecutorConformance(
    `flyte (stand-in over HTTP/${httpVersion})`,
    async () => {
      const standin = await FlyteStandin.start({ tasks: conformanceTasks, httpVersion });
      const client = connectFlyte(
        resolveFlyteConfig({ endpoint: standin.url, org: 'testorg', httpVersion, maxRuns: 4 }),
      );
      const tasks = new FlyteTasks(client);
      return {
        executor: new FlyteExecutor(client, tasks, { watchBackoffMs: 20 }),
        // The cluster schedules runs; `concurrency` + `queueSize` is the executor's own bound
        // on the runs it follows at once (maxRuns), which `queue_full` tests.
        concurrency: 2,
        queueSize: 2,
        resolveTask: (ref) => tasks.resolve(ref),
        teardown: () => standin.close(),
      };
    },
    {
      reportsProgress: false,
      notApplicable: {
        'restart-attempt':
          'Flyte counts the attempts of its runs itself; after a restart wirehub re-attaches to the Flyte run instead of starting it again at an attempt (tested in flyte-faults.test.ts).',
        concurrency:
          'how many runs run at once is the cluster’s scheduling (its quotas and resources), not the executor’s; the executor bounds only the runs it follows (queue_full).',
        'abort-queued':
          'whether a run waits is the cluster’s scheduling; aborting a run Flyte still has QUEUED is the same AbortRun as aborting a running one (tested above).',
        'drain-waiting':
          'no run waits in this process for a slot; a drain stops following Flyte runs, which go on on the cluster and are re-attached at the next start (tested in flyte-faults.test.ts).',
        'drain-interrupt':
          'a drain never interrupts a Flyte run: it keeps running on the cluster and the next start re-attaches to it (tested in flyte-faults.test.ts).',
      },
    },
  );
}

describe('flyte executor', () => {
  conformance('2');
  conformance('1.1');
});
