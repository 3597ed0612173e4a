/**
 * The webmail's only way to the server: JMAP (RFC 8620) on the same origin. Sign-in exchanges
 * the address and password for a bearer token (POST /jmap/auth/token, fargate-listeners/src/jmap/
 * tokens.ts) and forgets the password; every call after it carries the token, kept in this
 * object's memory only (never in localStorage or a cookie, so no other site can make the browser
 * send it: nothing to forge, CSRF-safe). A reload signs out; sign-out revokes the token on the
 * server.
 */
/** The capabilities the webmail uses, when the server offers them (RFC 8620 §3.3 `using`). */
const WANTED = [
  'urn:ietf:params:jmap:core',
  'urn:ietf:params:jmap:mail',
  'urn:ietf:params:jmap:submission',
  'urn:ietf:params:jmap:vacationresponse',
  'urn:ietf:params:jmap:contacts',
];

export type Invocation = [string, Record<string, unknown>, string];

export interface SessionInfo {
  username: string;
  accountId: string;
  apiUrl: string;
  downloadUrl: string;
  uploadUrl: string;
  eventSourceUrl: string;
  /** The WANTED capabilities the server offers. */
  using: string[];
}

export class SignInError extends Error {}

/** A JMAP method error (RFC 8620 §3.6.2) answered for one call. */
export class MethodError extends Error {
  readonly type: string;
  constructor(type: string, description?: string) {
    super(description ? `${type}: ${description}` : type);
    this.type = type;
  }
}

export class JmapClient {
  readonly session: SessionInfo;
  private authorization: string;

  private constructor(session: SessionInfo, authorization: string) {
    this.session = session;
    this.authorization = authorization;
  }

  static async signIn(email: string, password: string): Promise<JmapClient> {
    const bytes = new TextEncoder().encode(`${email}:${password}`);
    const basic = `Basic ${btoa(String.fromCharCode(...bytes))}`;
    const refusal = (res: Response) => {
      if (res.status === 401) return new SignInError('Wrong email or password.');
      if (res.status === 429) return new SignInError('Too many failed sign-ins. Wait a few minutes, then try again.');
      if (res.status === 403) return new SignInError('Sign-in needs a secure (https) connection.');
      return new SignInError(`The server answered ${res.status}. Try again later.`);
    };
    let res: Response;
    try {
      res = await fetch('/jmap/auth/token', { method: 'POST', headers: { authorization: basic }, credentials: 'omit', cache: 'no-store' });
    } catch {
      throw new SignInError('The server cannot be reached. Try again in a moment.');
    }
    if (!res.ok) throw refusal(res);
    const authorization = `Bearer ${((await res.json()) as { access_token: string }).access_token}`;
    res = await fetch('/.well-known/jmap', { headers: { authorization }, credentials: 'omit', cache: 'no-store' });
    if (!res.ok) throw refusal(res);
    const body = (await res.json()) as { username: string; primaryAccounts?: Record<string, string>; capabilities?: Record<string, unknown> } & Omit<
      SessionInfo,
      'username' | 'accountId' | 'using'
    >;
    const accountId = body.primaryAccounts?.['urn:ietf:params:jmap:mail'];
    if (typeof accountId !== 'string') throw new SignInError('This server offers no mail account for you.');
    return new JmapClient(
      {
        username: String(body.username),
        accountId,
        apiUrl: body.apiUrl,
        downloadUrl: body.downloadUrl,
        uploadUrl: body.uploadUrl,
        eventSourceUrl: body.eventSourceUrl,
        using: WANTED.filter((c) => body.capabilities && c in body.capabilities),
      },
      authorization,
    );
  }

  /**
   * Changes the user's password (POST /jmap/auth/password). The server ends every token of the
   * user and answers a fresh one, which this client then uses. Resolves null on success, else
   * the reason in plain words.
   */
  async changePassword(currentPassword: string, newPassword: string): Promise<string | null> {
    let res: Response;
    try {
      res = await fetch('/jmap/auth/password', {
        method: 'POST',
        headers: { authorization: this.authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ currentPassword, newPassword }),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch {
      return 'The server cannot be reached. Try again in a moment.';
    }
    if (res.ok) {
      this.authorization = `Bearer ${((await res.json()) as { access_token: string }).access_token}`;
      return null;
    }
    if (res.status === 403) return 'The current password is wrong.';
    if (res.status === 429) return 'Too many failed attempts. Wait a few minutes, then try again.';
    const detail = ((await res.json().catch(() => ({}))) as { detail?: string }).detail;
    return detail ? `${detail}.` : `The server answered ${res.status}.`;
  }

  /** Revokes the token on the server (RFC 6750 bearer; DELETE /jmap/auth/token). */
  async signOut(): Promise<void> {
    await fetch('/jmap/auth/token', { method: 'DELETE', headers: { authorization: this.authorization }, credentials: 'omit' }).catch(() => undefined);
  }

  /** One request with several calls; the responses in order. A method error throws. */
  async call(calls: Invocation[]): Promise<Array<Record<string, unknown>>> {
    const res = await fetch(this.session.apiUrl, {
      method: 'POST',
      headers: { authorization: this.authorization, 'content-type': 'application/json' },
      credentials: 'omit',
      body: JSON.stringify({ using: this.session.using, methodCalls: calls }),
    });
    if (!res.ok) throw new Error(`JMAP request failed: HTTP ${res.status}`);
    const body = (await res.json()) as { methodResponses: Invocation[] };
    return body.methodResponses.map(([name, args]) => {
      if (name === 'error') throw new MethodError(String(args.type), args.description as string | undefined);
      return args;
    });
  }

  /** One call with the account filled in. */
  async request(method: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    const [res] = await this.call([[method, { accountId: this.session.accountId, ...args }, '0']]);
    return res;
  }

  downloadUrl(blobId: string, name: string, type: string): string {
    return this.session.downloadUrl
      .replace('{accountId}', encodeURIComponent(this.session.accountId))
      .replace('{blobId}', encodeURIComponent(blobId))
      .replace('{name}', encodeURIComponent(name))
      .replace('{type}', encodeURIComponent(type));
  }

  /** A blob's bytes (downloads need the credentials, so they go through fetch). */
  async download(blobId: string, name: string, type: string): Promise<Blob> {
    const res = await fetch(this.downloadUrl(blobId, name, type), { headers: { authorization: this.authorization }, credentials: 'omit' });
    if (!res.ok) throw new Error(`download failed: HTTP ${res.status}`);
    return res.blob();
  }

  /** Uploads a file as a blob (RFC 8620 §6.1); its blobId serves as an attachment. */
  async upload(file: Blob): Promise<{ blobId: string; type: string; size: number }> {
    const url = this.session.uploadUrl.replace('{accountId}', encodeURIComponent(this.session.accountId));
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: this.authorization, 'content-type': file.type || 'application/octet-stream' },
      credentials: 'omit',
      body: file,
    });
    if (!res.ok) throw new Error(res.status === 413 ? 'the file is too large' : `HTTP ${res.status}`);
    return (await res.json()) as { blobId: string; type: string; size: number };
  }

  /**
   * Push (RFC 8620 §7.3): calls `onChange` on every StateChange until the returned function is
   * called. EventSource cannot send an Authorization header, so the stream is read with fetch;
   * a dropped stream is opened again after a pause that grows to a minute.
   */
  watch(onChange: (changed: Record<string, Record<string, string>>) => void): () => void {
    const abort = new AbortController();
    const url = this.session.eventSourceUrl.replace('{types}', '*').replace('{closeafter}', 'no').replace('{ping}', '60');
    let delay = 1000;
    const run = async () => {
      while (!abort.signal.aborted) {
        try {
          const res = await fetch(url, {
            headers: { authorization: this.authorization, accept: 'text/event-stream' },
            signal: abort.signal,
            credentials: 'omit',
          });
          if (!res.ok || !res.body) throw new Error(`event source: HTTP ${res.status}`);
          delay = 1000;
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let end: number;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const event = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const type = /^event: *(.*)$/m.exec(event)?.[1] ?? 'message';
              const data = event
                .split('\n')
                .filter((l) => l.startsWith('data:'))
                .map((l) => l.slice(5).replace(/^ /, ''))
                .join('\n');
              if (type === 'state' && data) onChange((JSON.parse(data) as { changed: Record<string, Record<string, string>> }).changed ?? {});
            }
          }
        } catch {
          if (abort.signal.aborted) return;
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(60_000, delay * 2);
      }
    };
    void run();
    return () => abort.abort();
  }
}
