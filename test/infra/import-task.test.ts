/**
 * The one-off import task (infra/import-task.ts): mailctl from the listeners' image with its
 * own least-privilege role and a security group that lets it reach the source server, and the
 * image's mailctl bundle itself, built the way fargate-listeners/Dockerfile builds it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMPORT_CONTAINER, IMPORT_SOURCE_PORTS } from '#infra/import-task.ts';
import { asArray, refTarget, resourcesOf, synthesize, type Synthesized } from './synth.ts';

let s: Synthesized;
beforeAll(() => {
  s = synthesize({}, { bundle: false });
}, 120_000);
afterAll(() => s?.cleanup());

function importTaskDefinition(): [string, any] {
  const found = resourcesOf(s.json, 'AWS::ECS::TaskDefinition').filter(([, td]) =>
    td.Properties.ContainerDefinitions.some((c: any) => c.Name === IMPORT_CONTAINER),
  );
  expect(found).toHaveLength(1);
  return found[0];
}

describe('import task', () => {
  it('runs mailctl from the listeners image, arm64, read-only root, no service', () => {
    const [id, td] = importTaskDefinition();
    const c = td.Properties.ContainerDefinitions[0];
    expect(c.Command.slice(0, 3)).toEqual(['node', '--enable-source-maps', '/app/mailctl.mjs']);
    expect(c.ReadonlyRootFilesystem).toBe(true);
    expect(td.Properties.RuntimePlatform.CpuArchitecture).toBe('ARM64');
    const listeners = resourcesOf(s.json, 'AWS::ECS::TaskDefinition').find(([other]) => other !== id)![1];
    expect(JSON.stringify(c.Image)).toBe(JSON.stringify(listeners.Properties.ContainerDefinitions[0].Image));
    const env = Object.fromEntries(c.Environment.map((e: any) => [e.Name, e.Value]));
    expect(env.MAIL_RUNTIME).toBe('aws');
    expect(Object.keys(env).some((k) => /PASSWORD|SECRET_KEY/.test(k))).toBe(false);
    // Started by hand only: no ECS service runs it.
    expect(resourcesOf(s.json, 'AWS::ECS::Service').every(([, svc]) => refTarget(svc.Properties.TaskDefinition) !== id)).toBe(true);
  });

  it('has no inbound rule and reaches only HTTPS and the IMAP/POP3 ports outside', () => {
    const groups = resourcesOf(s.json, 'AWS::EC2::SecurityGroup').filter(([, g]) => /mailctl import/.test(g.Properties.GroupDescription));
    expect(groups).toHaveLength(1);
    const [, g] = groups[0];
    expect(g.Properties.SecurityGroupIngress ?? []).toEqual([]);
    const ports = asArray<any>(g.Properties.SecurityGroupEgress)
      .map((e) => e.FromPort)
      .sort((a, b) => a - b);
    expect(ports).toEqual([443, ...IMPORT_SOURCE_PORTS].sort((a, b) => a - b));
  });

  it('its role writes messages and the import state, reads and writes the index, publishes on the push topic, and nothing else', () => {
    const [, td] = importTaskDefinition();
    const roleId = refTarget(td.Properties.TaskRoleArn)!;
    const statements = resourcesOf(s.json, 'AWS::IAM::Policy')
      .filter(([, p]) => asArray(p.Properties.Roles).some((r) => refTarget(r) === roleId))
      .flatMap(([, p]) => asArray<any>(p.Properties.PolicyDocument.Statement));
    const actions = [...new Set(statements.flatMap((st) => asArray<string>(st.Action)))].sort();
    expect(actions.every((a) => /^(s3|dynamodb|sns):/.test(a))).toBe(true);
    expect(actions.filter((a) => a.startsWith('sns:'))).toEqual(['sns:Publish']);
    expect(actions.some((a) => a.includes('*'))).toBe(false);
    const objectResources = JSON.stringify(statements.filter((st) => asArray<string>(st.Action).includes('s3:PutObject')).map((st) => st.Resource));
    expect(objectResources).toContain('messages/*');
    expect(objectResources).toContain('import-state/*');
  });

  it('the stack prints the run-task command for it', () => {
    const out = s.json.Outputs.ImportRunTask;
    expect(JSON.stringify(out.Value)).toContain('aws ecs run-task --launch-type FARGATE');
    expect(JSON.stringify(out.Value)).toContain(IMPORT_CONTAINER);
  });
});

describe("the image's mailctl bundle", () => {
  it('builds with the Dockerfile esbuild command and runs: usage with the import commands', () => {
    const dockerfile = readFileSync('fargate-listeners/Dockerfile', 'utf8');
    const run = /^RUN (npx esbuild [\s\S]*?)(?<!\\)\n/m.exec(dockerfile);
    expect(run).not.toBeNull();
    const out = mkdtempSync(path.join(os.tmpdir(), 'image-bundle-'));
    try {
      const command = run![1].replace(/\\\n/g, ' ').replace('--outdir=dist', `--outdir=${out}`);
      const built = spawnSync('bash', ['-c', command], { encoding: 'utf8' });
      expect(built.status, built.stderr).toBe(0);
      const help = spawnSync(process.execPath, [path.join(out, 'mailctl.mjs'), 'help'], { encoding: 'utf8', env: { ...process.env, MAIL_RUNTIME: 'aws' } });
      expect(help.status, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/import imap/);
      expect(help.stdout).toMatch(/export mbox/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
