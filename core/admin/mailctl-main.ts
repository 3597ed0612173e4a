/** Process wiring of mailctl: picks the adapter set, reads passwords, prints. */
import { createInterface } from 'node:readline';
import type { Adapters } from '../adapters/adapters.ts';
import { createLocalAdapters } from '../adapters/local/index.ts';
import { loadConfig } from '../config.ts';
import { runMailctl, USAGE, type MailctlIO } from './mailctl.ts';

async function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const rl = createInterface({ input: stdin });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    return '';
  }
  // Hidden prompt on a terminal.
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  let value = '';
  return new Promise((resolve, reject) => {
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stderr.write('\n');
          return resolve(value);
        }
        if (ch === '\u0003') {
          stdin.setRawMode(false);
          return reject(new Error('interrupted'));
        }
        if (ch === '\u007f') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export async function main(argv: string[]): Promise<number> {
  const useAws = argv.includes('--aws') || process.env.MAIL_RUNTIME === 'aws';
  const args = argv.filter((a) => a !== '--aws');
  if (args.length === 0 || args[0] === '--help' || args[0] === '-h' || args[0] === 'help') {
    process.stdout.write(USAGE + '\n');
    return args.length === 0 ? 2 : 0;
  }
  let adapters: Adapters;
  if (useAws) {
    const aws = await import('../adapters/aws/index.ts');
    const provision = await import('../adapters/aws/provision.ts');
    adapters = await aws.createAwsAdapters({ refs: provision.awsResourceRefsFromEnv(process.env) });
  } else {
    adapters = await createLocalAdapters({ dataDir: loadConfig({ ...process.env, MAIL_RUNTIME: 'local' }).dataDir });
  }
  const io: MailctlIO = {
    out: (l) => process.stdout.write(l + '\n'),
    err: (l) => process.stderr.write(l + '\n'),
    readPassword,
    writeRaw: (b) => process.stdout.write(b),
  };
  try {
    return await runMailctl(args, adapters, io);
  } finally {
    await adapters.close();
  }
}
