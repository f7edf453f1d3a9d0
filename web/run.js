// The run page (/runs/{id}): served as /assets/run.js, so its CSP needs no inline script.
(() => {
  const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'ABORTED', 'TIMED_OUT']);
  const $ = (id) => document.getElementById(id);
  const runId = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
  // With auth on, open the page as /runs/<id>#access_token=<token>. The fragment never reaches
  // the server or its logs; the page moves the token to this tab's sessionStorage (so a reload
  // works) and takes it out of the address bar (so it is not copied along with the link).
  const TOKEN_KEY = 'wirehub.access_token';
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('access_token');
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, '', location.pathname + location.search);
  }
  const token = sessionStorage.getItem(TOKEN_KEY);
  let lastSeq = 0;
  let ended = false;
  let stopped = false;
  let retry = 500;
  let socket;
  $('run-id').textContent = runId;
  document.title = `Run ${runId} · wirehub`;

  function setStatus(status, message) {
    const el = $('status');
    el.textContent = status;
    el.className = `status ${status}`;
    if (message !== undefined) $('message').textContent = message;
    $('cancel').hidden = TERMINAL.has(status);
  }

  function show(update) {
    if (update.seq <= lastSeq) return;
    lastSeq = update.seq;
    setStatus(update.status, update.message);
    if (typeof update.progress === 'number') $('progress').value = update.progress;
    const li = document.createElement('li');
    const time = document.createElement('time');
    time.textContent = new Date(update.at).toLocaleTimeString();
    const st = document.createElement('span');
    st.className = 'st';
    st.textContent = update.status;
    li.append(time, st, document.createTextNode(update.message));
    if (typeof update.progress === 'number') li.append(document.createTextNode(` (${update.progress}%)`));
    $('updates').append(li);
    if (update.outputs !== undefined) {
      $('outputs').textContent = JSON.stringify(update.outputs, null, 2);
      $('result').hidden = false;
      $('progress').value = 100;
    }
    if (update.error) {
      $('error').textContent = `${update.error.kind}: ${update.error.message}`;
      $('failure').hidden = false;
    }
    if (TERMINAL.has(update.status)) {
      ended = true;
      $('conn').textContent = 'run ended';
      socket?.close(1000);
    }
  }

  /** A problem retrying cannot fix (no or bad credentials, not allowed): say so and stop. */
  function stop(text) {
    stopped = true;
    $('conn').textContent = text;
    socket?.close(1000);
  }

  function connect() {
    if (stopped) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const query = token ? `?access_token=${encodeURIComponent(token)}` : '';
    socket = new WebSocket(`${scheme}://${location.host}/task-runner${query}`);
    socket.onopen = () => {
      retry = 500;
      $('conn').textContent = 'live';
      // watch replays the stored updates, then streams the rest; seq skips what we have.
      socket.send(JSON.stringify({ watch: runId }));
    };
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      // Updates carry a seq (a failed run's last update has an `error` too); error answers do not.
      if (typeof msg.seq === 'number') {
        if (msg.run_id === runId) show(msg);
      } else if (msg.error) {
        if (msg.error.code === 'forbidden' || msg.error.code === 'unknown_run')
          stop(`error: ${msg.error.message}`);
        else $('conn').textContent = `error: ${msg.error.message}`;
      }
    };
    socket.onclose = (event) => {
      if (ended || stopped) return;
      if (event.code === 4001) {
        stop('the access token expired: open the page again with a fresh #access_token=');
        return;
      }
      $('conn').textContent = `disconnected; reconnecting in ${retry} ms…`;
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  $('cancel').onclick = () => socket?.send(JSON.stringify({ cancel: runId }));

  fetch(`/api/runs/${encodeURIComponent(runId)}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  })
    .then(async (r) => {
      const body = await r.json().catch(() => ({}));
      if (r.ok) return body;
      const error = body.error || {};
      const problem = new Error(error.message || `HTTP ${r.status}`);
      // Not allowed (or, with auth off, not on the server's machine): /task-runner says the
      // same, so there is nothing to retry. Other failures leave the socket to try.
      problem.fatal = r.status === 401 || r.status === 403 || r.status === 404;
      problem.status = r.status;
      throw problem;
    })
    .then((run) => {
      $('task').textContent = `${run.project}/${run.domain}/${run.task}@${run.version}`;
      $('created').textContent = `· started ${new Date(run.created_at).toLocaleString()}`;
      $('inputs').textContent = JSON.stringify(run.inputs, null, 2);
      // A run another engine runs (Flyte) links to its page in that engine's console.
      if (run.external && /^https?:\/\//.test(run.external.url || '')) {
        $('engine').textContent = run.external.executor === 'flyte' ? 'Flyte' : run.external.executor;
        const link = document.createElement('a');
        link.href = run.external.url;
        link.rel = 'noopener noreferrer';
        link.target = '_blank';
        link.textContent = 'open it in its console';
        $('console').replaceChildren(link);
        $('external').hidden = false;
      }
      connect();
    })
    .catch((err) => {
      $('task').textContent = `(details unavailable: ${err.message})`;
      if (!err.fatal) connect();
      else if (err.status === 401)
        stop(
          token
            ? `sign-in failed: ${err.message}`
            : 'this server needs a token: open the page as /runs/<id>#access_token=<token>',
        );
      else stop(`error: ${err.message}`);
    });
})();
