// Preloaded (node --expose-gc --import) into every server the comparison measures, wirehub
// and baselines alike: on SIGUSR2 the server collects garbage and says so on stderr, so an
// RSS sample counts live memory and not garbage that happens not to be collected yet.
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  process.stderr.write('@@gc-done\n');
});
