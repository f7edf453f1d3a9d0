import { siblingModule } from '../module-url.js';

/** The built-in demo tasks (project `demo`, domain `development`, version `v1`), as module URLs. */
export const demoTaskModules: readonly string[] = ['countdown', 'word-count', 'primes', 'fail'].map((name) =>
  siblingModule(import.meta.url, `./${name}`),
);
