/**
 * Synthesises the mail stack for the infra tests (once per test file): the app from
 * infra/mail-app.ts with test context, into a temporary cloud assembly directory.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createMailApp, type MailApp } from '#infra/mail-app.ts';

export const BASE_CONTEXT = {
  'mail:domains': 'example.com,example.org',
  'mail:hostname': 'mail.example.com',
};

export interface Synthesized extends MailApp {
  template: Template;
  /** The template as CloudFormation JSON. */
  json: Record<string, any>;
  outdir: string;
  cleanup(): void;
}

/**
 * `bundle: false` skips esbuild for the functions (CDK's `aws:cdk:bundling-stacks` context):
 * the template is the same apart from the asset hashes.
 */
export function synthesize(context: Record<string, unknown>, options: { bundle?: boolean } = {}): Synthesized {
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'cloudmail-cdk-'));
  const full = { ...BASE_CONTEXT, ...context, ...(options.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {}) };
  const app = createMailApp({ context: full, outdir, nag: false });
  const template = Template.fromStack(app.stack);
  return { ...app, template, json: template.toJSON(), outdir, cleanup: () => rmSync(outdir, { recursive: true, force: true }) };
}

/** cdk-nag AwsSolutions findings that are not acknowledged, as `rule @ construct path` lines. */
export function nagFindings(synth: Synthesized): string[] {
  const report = new AwsSolutionsChecks().validateScope(synth.app);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.severity} ${v.ruleName} @ ${r.constructPath}: ${v.description}`));
}

/** Resources of one CloudFormation type, by logical id. */
export function resourcesOf(json: Record<string, any>, type: string): Array<[string, any]> {
  return Object.entries(json.Resources as Record<string, any>).filter(([, r]) => r.Type === type);
}

/** The logical id a `{Ref}` or `{Fn::GetAtt}` points at, or null. */
export function refTarget(value: unknown): string | null {
  if (value && typeof value === 'object') {
    const v = value as Record<string, any>;
    if (typeof v.Ref === 'string') return v.Ref;
    if (Array.isArray(v['Fn::GetAtt'])) return v['Fn::GetAtt'][0];
  }
  return null;
}

export function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/**
 * Runs cfn-lint (from the project venv that scripts/test.sh makes, or PATH) on the template.
 * A missing cfn-lint is an error, not a skip: the test run installs it.
 * W3005 (DependsOn already implied by a GetAtt) is ignored: CDK makes each function depend on
 * its role and that role's policy; the policy dependency matters (the event source mapping
 * needs it), the role one is redundant and harmless.
 */
export function cfnLint(synth: Synthesized): { output: string; status: number | null } {
  const bin = [path.resolve('.tools/venv/bin/cfn-lint'), 'cfn-lint'].find((b) => spawnSync(b, ['--version']).status === 0);
  if (!bin) throw new Error('cfn-lint not found: run scripts/test.sh (it installs cfn-lint into .tools/venv)');
  const file = path.join(synth.outdir, 'lint.template.json');
  writeFileSync(file, JSON.stringify(synth.json, null, 1));
  const run = spawnSync(bin, ['--ignore-checks', 'W3005', '--', file], { encoding: 'utf8' });
  return { output: run.stdout + run.stderr, status: run.status };
}
