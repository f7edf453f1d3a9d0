/**
 * The URL of a module next to `metaUrl`, with the caller's own extension: `.js` in the built
 * package, `.ts` when wirehub runs from its TypeScript sources (under vitest). Worker
 * threads import task modules by URL, so the URL must name a file that really exists.
 */
export function siblingModule(metaUrl: string, relativePathWithoutExtension: string): string {
  const ext = new URL(metaUrl).pathname.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`${relativePathWithoutExtension}${ext}`, metaUrl).href;
}
