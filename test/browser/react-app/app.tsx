// A small React page on wirehub/react, as an app would write it; react.test.ts bundles it with
// esbuild and serves it on the wirehub server's own origin.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { WirehubClient } from '../../../src/client/browser.js';
import {
  useChannel,
  useConnectionState,
  usePresence,
  useRun,
  WirehubProvider,
} from '../../../src/react/index.js';

// Quick reconnects, so the test does not wait out the default backoff.
const client = new WirehubClient({ reconnect: { minDelayMs: 100, maxDelayMs: 500 } });

function Connection() {
  return <p id="state">{useConnectionState()}</p>;
}

function Chat() {
  const { publications, status, recovery, publish } = useChannel<string>('chat:lobby');
  return (
    <section>
      <p id="chat-status">{status}</p>
      <p id="chat-recovery">{recovery ? `${recovery.recovered}:${recovery.replayed}` : 'none'}</p>
      <ul id="chat-log">
        {publications.map((p) => (
          <li key={`${p.epoch}:${p.offset}`}>{String(p.data)}</li>
        ))}
      </ul>
      <button id="chat-send" type="button" onClick={() => void publish('hello from react')}>
        send
      </button>
    </section>
  );
}

function Members() {
  const { members } = usePresence('chat:lobby');
  return (
    <ul id="members">
      {members.map((m) => (
        <li key={m.client}>{m.client}</li>
      ))}
    </ul>
  );
}

function Countdown() {
  const run = useRun();
  const launch = () =>
    run
      .start({
        project: 'demo',
        domain: 'development',
        task: 'countdown',
        version: 'v1',
        inputs: { n: 3, delayMs: 20 },
      })
      .catch(() => {});
  return (
    <section>
      <button id="run-start" type="button" onClick={launch}>
        run
      </button>
      <p id="run-status">{run.status ?? 'none'}</p>
      <p id="run-updates">{run.updates.map((u) => u.status).join(',')}</p>
      <p id="run-outcome">{run.outcome ? JSON.stringify(run.outcome.outputs) : ''}</p>
      <p id="run-error">{run.error?.code ?? ''}</p>
      {run.outcome && run.runId && <Follower runId={run.runId} />}
    </section>
  );
}

/** Follows a run by id, as a page that did not start it would. */
function Follower({ runId }: { runId: string }) {
  const run = useRun(runId);
  return <p id="follow-updates">{run.outcome ? run.updates.map((u) => u.status).join(',') : ''}</p>;
}

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <WirehubProvider client={client}>
      <Connection />
      <Chat />
      <Members />
      <Countdown />
    </WirehubProvider>
  </StrictMode>,
);
