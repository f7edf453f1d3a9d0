import { InvalidArgumentError, Option } from 'commander';
import { FlyteConfigError, type FlyteOptions, resolveFlyteConfig } from '../tasks/executors/flyte/config.js';
import { parseHttpUrl, parseIntAtLeast, parseNonEmpty } from './parse.js';

/** The Flyte flags of `wirehub serve`, as commander gives them. */
export interface FlyteFlags {
  flyteEndpoint?: string;
  flyteApiKey?: string;
  flyteToken?: string;
  flyteOrg?: string;
  flyteInsecure?: boolean;
  flyteHttpVersion?: '1.1' | '2';
  flyteConsoleUrl?: string;
  flyteMaxRuns?: number;
}

function parseHttpVersion(raw: string): '1.1' | '2' {
  const v = raw.trim();
  if (v === '1.1' || v === '2') return v;
  throw new InvalidArgumentError('expected 1.1 or 2');
}

/**
 * `--flyte-*`: send the task runs this server does not serve itself to a Flyte 2 cluster.
 * Each also reads an environment variable (the API key the Flyte SDK's `FLYTE_API_KEY`).
 */
export function flyteOptions(): Option[] {
  return [
    new Option(
      '--flyte-endpoint <url>',
      'a Flyte 2 cluster to run the tasks this server does not have: https://host, http://host:port (a sandbox) or dns:///host',
    )
      .env('WIREHUB_FLYTE_ENDPOINT')
      .argParser(parseNonEmpty),
    new Option(
      '--flyte-api-key <key>',
      'Flyte API key (flyte create api-key): base64 of endpoint:client_id:client_secret:org; exchanged for tokens',
    )
      .env('FLYTE_API_KEY')
      .argParser(parseNonEmpty),
    new Option('--flyte-token <token>', 'a bearer token for Flyte instead of an API key')
      .env('WIREHUB_FLYTE_TOKEN')
      .argParser(parseNonEmpty),
    new Option('--flyte-org <org>', "organization of Flyte task and run ids (default: the API key's)")
      .env('WIREHUB_FLYTE_ORG')
      .argParser(parseNonEmpty),
    new Option('--flyte-insecure', 'plain HTTP to Flyte, no TLS (a local sandbox)').env(
      'WIREHUB_FLYTE_INSECURE',
    ),
    new Option('--flyte-http-version <v>', 'HTTP version of the Connect calls to Flyte: 2 (default) or 1.1')
      .env('WIREHUB_FLYTE_HTTP_VERSION')
      .argParser(parseHttpVersion),
    new Option('--flyte-console-url <url>', 'base of Flyte console links (default: the endpoint)')
      .env('WIREHUB_FLYTE_CONSOLE_URL')
      .argParser(parseHttpUrl),
    new Option(
      '--flyte-max-runs <n>',
      'Flyte runs this node follows at once; more are refused with queue_full',
    )
      .env('WIREHUB_FLYTE_MAX_RUNS')
      .argParser(parseIntAtLeast(1)),
  ];
}

/**
 * The `flyte` option of the server from the flags, or undefined when no Flyte flag is set.
 * Checks them as the server will (throws `FlyteConfigError` naming the problem: no endpoint,
 * a malformed API key or endpoint, both a token and a key).
 */
export function flyteFromFlags(f: FlyteFlags): FlyteOptions | undefined {
  const options: FlyteOptions = {};
  if (f.flyteEndpoint !== undefined) options.endpoint = f.flyteEndpoint;
  if (f.flyteApiKey !== undefined) options.apiKey = f.flyteApiKey;
  if (f.flyteToken !== undefined) options.token = f.flyteToken;
  if (f.flyteOrg !== undefined) options.org = f.flyteOrg;
  if (f.flyteInsecure !== undefined) options.insecure = f.flyteInsecure;
  if (f.flyteHttpVersion !== undefined) options.httpVersion = f.flyteHttpVersion;
  if (f.flyteConsoleUrl !== undefined) options.consoleUrl = f.flyteConsoleUrl;
  if (f.flyteMaxRuns !== undefined) options.maxRuns = f.flyteMaxRuns;
  if (Object.keys(options).length === 0) return undefined;
  if (options.endpoint === undefined && options.apiKey === undefined) {
    throw new FlyteConfigError('the Flyte options need --flyte-endpoint or --flyte-api-key (FLYTE_API_KEY)');
  }
  resolveFlyteConfig(options);
  return options;
}
