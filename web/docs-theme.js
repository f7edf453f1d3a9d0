// Swagger UI at /docs: a wirehub bar on top with a link back to the dashboard. Served by
// @fastify/swagger-ui as a theme file (its CSP allows this origin's scripts, no inline ones).
(() => {
  const bar = document.createElement('header');
  bar.className = 'wirehub-bar';
  const home = document.createElement('a');
  home.className = 'wirehub-brand';
  home.href = '/';
  home.textContent = 'wirehub';
  const what = document.createElement('span');
  what.textContent = 'HTTP API';
  const back = document.createElement('a');
  back.className = 'wirehub-home';
  back.href = '/';
  back.textContent = 'Dashboard';
  bar.append(home, what, back);
  document.body.prepend(bar);
})();
