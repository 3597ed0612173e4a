/** Process wiring of mailctl: picks the adapter set, reads passwords, prints. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Adapters } from '../adapters/adapters.ts';
import { createLocalAdapters } from '../adapters/local/index.ts';
import { loadConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { createMailboxEvents, type MailboxEvents } from '../mailbox/events.ts';
import { COMMANDS, GROUPS, runMailctl, USAGE, type MailctlIO } from './mailctl.ts';

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
  // `mailctl … | head -1`: the reader went away; the rest of the output is not wanted.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const io: MailctlIO = {
    out: (l) => process.stdout.write(l + '\n'),
    err: (l) => process.stderr.write(l + '\n'),
    readPassword,
    writeRaw: (b) => process.stdout.write(b),
    env: process.env,
    status: process.stderr.isTTY ? (line) => process.stderr.write(`\r\x1b[K${line}`) : undefined,
  };
  // An unknown group, a group without its command, or a group's --help: usage only, no store.
  const usageOnly = !COMMANDS.includes(args[0]) || (GROUPS.includes(args[0]) && (!args[1] || ['--help', '-h', 'help'].includes(args[1])));
  if (usageOnly) return runMailctl(args, NO_STORE, io);
  let adapters: Adapters;
  // On AWS the listener tasks hear of mailboxes mailctl removed through the push topic (when
  // PUSH_TOPIC_ARN is set); locally they see the index file change (sqlite-change-feed.ts).
  let events: MailboxEvents | undefined;
  if (useAws) {
    const aws = await import('../adapters/aws/index.ts');
    const provision = await import('../adapters/aws/provision.ts');
    adapters = await aws.createAwsAdapters({ refs: provision.awsResourceRefsFromEnv(process.env) });
    const feed = (await import('../adapters/aws/sns-change-feed.ts')).createAwsChangeFeed();
    if (feed) events = createMailboxEvents({ feed, log: createLogger({ component: 'change-feed' }, 'warn', (l) => io.err(l)) });
  } else {
    const { dataDir } = loadConfig({ ...process.env, MAIL_RUNTIME: 'local' });
    // A store is made on purpose only: by the first `domain add` (or by `npm start`). Any other
    // command on a directory without one would work on a new, empty store and report the mail
    // as gone; it says where it looked instead.
    if (!existsSync(path.join(dataDir, 'index.sqlite')) && !(args[0] === 'domain' && args[1] === 'add')) {
      io.err(
        `mailctl: no mail data in ${dataDir}: start the system there (npm start) or add the first domain (mailctl domain add <domain>); MAIL_DATA_DIR names another directory`,
      );
      return 1;
    }
    adapters = await createLocalAdapters({ dataDir });
  }
  try {
    return await runMailctl(args, adapters, io, events);
  } finally {
    await events?.close();
    await adapters.close();
  }
}

/** What runMailctl gets for usage-only commands: they never reach a store. */
const NO_STORE = new Proxy({} as Adapters, {
  get(_t, prop) {
    throw new Error(`usage-only mailctl command used the store (${String(prop)})`);
  },
});
