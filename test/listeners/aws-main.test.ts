/**
 * The Fargate entry point (aws-main.ts) as a process on the emulator: reads its TLS certificate
 * from Secrets Manager, serves SMTP with STARTTLS using it, and hands accepted mail to SQS
 * (no workers in the container: the ingest Lambda consumes the queue).
 */
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, inject } from 'vitest';
import { generate } from 'selfsigned';
import { createUser } from '#core/accounts/accounts.ts';
import { awsResourceEnv, createAwsAdapters, destroyAwsResources, provisionAwsResources } from '#core/adapters/aws/index.ts';
import { emulatorClientConfig, emulatorEnv, freePort } from '../support/emulator.ts';
import { cleanupsAfterAll } from '../support/cleanups.ts';
import { EPHEMERAL_PORTS, uniquePrefix } from '../support/mail-system.ts';
import { smtplibSend } from '../support/smtplib.ts';

describe('Fargate entry point on the emulator', () => {
  const cleanups = cleanupsAfterAll();

  it('uses the TLS certificate from Secrets Manager and queues accepted mail in SQS', async () => {
    const clientConfig = emulatorClientConfig(inject('awsEndpoint'));
    const refs = await provisionAwsResources(clientConfig, uniquePrefix());
    cleanups.push(() => destroyAwsResources(clientConfig, refs).catch(() => {}));
    const adapters = await createAwsAdapters({ refs, clientConfig });
    cleanups.push(() => adapters.close());
    await adapters.index.addDomain('example.test');
    await createUser(adapters.index, 'alice@example.test', 'pw');

    const pems = await generate([{ name: 'commonName', value: 'secret-cert.example.test' }], { keySize: 2048, days: 2 } as any);
    const sm = new SecretsManagerClient(clientConfig);
    const secret = await sm.send(
      new CreateSecretCommand({ Name: `${uniquePrefix()}-tls`, SecretString: JSON.stringify({ cert: pems.cert, key: pems.private }) }),
    );
    sm.destroy();

    const port = await freePort();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'aws-main-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const child: ChildProcess = spawn(process.execPath, ['fargate-listeners/src/aws-main.ts'], {
      env: {
        ...process.env,
        ...awsResourceEnv(refs),
        ...emulatorEnv(clientConfig),
        TLS_SECRET_ARN: secret.ARN!,
        MAIL_DATA_DIR: dataDir,
        MAIL_HOSTNAME: 'mx.example.test',
        MAIL_BIND: '127.0.0.1',
        ...EPHEMERAL_PORTS,
        SMTP_PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const deadline = Date.now() + 20_000;
    while (!output.includes('listeners started')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`aws-main did not start: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    const r = await smtplibSend({ port, tls: 'starttls', from: 'x@remote.test', to: ['alice@example.test'], data: 'Subject: via container\r\n\r\nhi\r\n' });
    expect(r.stderr).toBe('');
    expect(r.outcome).toEqual({ refused: {} });
    const { X509Certificate } = await import('node:crypto');
    expect(new X509Certificate(r.peerCertificate!).subject).toContain('CN=secret-cert.example.test');

    const jobs = await adapters.queue.receive<{ rcptTo: string[]; blobKey: string }>('ingest', { max: 10, waitSeconds: 2 });
    expect(jobs).toHaveLength(1);
    expect(jobs[0].body.rcptTo).toEqual(['alice@example.test']);
    expect((await adapters.blobs.get(jobs[0].body.blobKey)).toString()).toContain('Subject: via container');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
