// Preloaded (node --expose-gc --import) into every server the comparison measures, wirehub
// and baselines alike. The harness writes commands on the server's stdin:
//   gc                     collect garbage, so an RSS sample counts live memory only;
//                          answers with process.memoryUsage() after the collection
//   profile-start          start the V8 CPU profiler (only the measured window is profiled)
//   profile-stop <file>    stop it and write a .cpuprofile
//   heap-snapshot <file>   collect garbage, then write a V8 heap snapshot (bench/idle-census.ts)
// and waits for the matching `@@<command>-done` line on stderr.
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { writeHeapSnapshot } from 'node:v8';

// Under Bun (bun --preload) there is no --expose-gc: Bun.gc(true) collects synchronously.
const collect = () => (globalThis.gc ? globalThis.gc() : globalThis.Bun?.gc(true));

let inspector;
const done = (what, detail = '') => process.stderr.write(`@@${what}-done ${detail}\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  const [command, arg] = line.trim().split(/\s+/, 2);
  if (command === 'gc') {
    collect();
    collect();
    done('gc', JSON.stringify(process.memoryUsage()));
  } else if (command === 'heap-snapshot' && arg) {
    globalThis.gc?.();
    writeHeapSnapshot(arg);
    done('heap-snapshot', JSON.stringify(process.memoryUsage()));
  } else if (command === 'profile-start') {
    const { Session } = await import('node:inspector');
    inspector = new Session();
    inspector.connect();
    inspector.post('Profiler.enable', () =>
      inspector.post('Profiler.setSamplingInterval', { interval: 200 }, () =>
        inspector.post('Profiler.start', () => done('profile-start')),
      ),
    );
  } else if (command === 'profile-stop' && inspector && arg) {
    inspector.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(arg, JSON.stringify(result.profile));
      inspector.disconnect();
      inspector = undefined;
      done('profile-stop');
    });
  }
});
// The server's own handles decide when it exits, not this pipe.
process.stdin.unref?.();
