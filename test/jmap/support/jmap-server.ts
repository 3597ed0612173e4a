/**
 * A whole local mail system (startTestSystem) whose HTTPS listener serves the JMAP routes, as
 * `npm start` does; `plain` uses the development HTTP listener on loopback instead.
 */
import { startTestSystem, type TestSystem, type TestSystemOptions } from '../../support/mail-system.ts';

export interface JmapTestSystem {
  ts: TestSystem;
  base: string;
  user: string;
  password: string;
  auth: string;
  stop(): Promise<void>;
}

export async function startJmapSystem(options: TestSystemOptions & { plain?: boolean } = {}): Promise<JmapTestSystem> {
  const ts = await startTestSystem({ ...options, env: { JMAP_ENABLED: 'true', ...options.env } });
  const user = 'alice@example.test';
  const password = 'correct horse';
  await ts.addUser(user, password);
  const base = options.plain ? `http://127.0.0.1:${ts.port('http')}` : `https://127.0.0.1:${ts.port('https')}`;
  return {
    ts,
    base,
    user,
    password,
    auth: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64'),
    stop: () => ts.stop(),
  };
}
