/**
 * Sending with Python's smtplib, the real client end-to-end tests use for SMTP: one script that
 * connects (plain, STARTTLS or implicit TLS), logs in if asked and sends, and reports what the
 * server answered as a typed outcome instead of each test printing and matching its own lines.
 */
import { python, type RunResult } from './clients.ts';

export interface SmtplibSendOptions {
  port: number;
  /** Envelope sender and recipients (smtplib.sendmail). */
  from?: string;
  to?: string[];
  /** The message, sent as bytes exactly as given; leave out (with dataFile) to connect and log in only. */
  data?: string | Buffer;
  /** Read the message from this file in Python, exactly as read (as a script sending a file would). */
  dataFile?: string;
  /** 'starttls' upgrades after EHLO (RFC 3207); 'implicit' is SMTP_SSL (RFC 8314). Certificates are not verified. */
  tls?: 'starttls' | 'implicit';
  auth?: { user: string; password: string };
  /** The local address to connect from (e.g. 127.0.0.2, another loopback address); the system's choice unless given. */
  sourceAddress?: string;
  /** The EHLO name smtplib announces (its local_hostname); 'client.test' unless given. */
  ehlo?: string;
  /** Ask for SMTPUTF8 (when the addresses need it) and BODY=8BITMIME where the server offers them. */
  eightBitWhenOffered?: boolean;
  timeoutMs?: number;
}

export type SmtplibOutcome =
  /** sendmail returned: the recipients refused while others were accepted (empty: all accepted). */
  | { refused: Record<string, [number, string]> }
  /** Connected (and logged in, if asked) without sending: login's reply, if there was a login. */
  | { loggedIn: [number, string] | null }
  /** Every recipient was refused (smtplib.SMTPRecipientsRefused). */
  | { error: 'rcpt-refused'; recipients: Record<string, [number, string]> }
  /** SMTPSenderRefused, SMTPDataError, SMTPAuthenticationError: the server's reply. */
  | { error: 'sender-refused' | 'data-error' | 'auth-error'; code: number; message: string }
  /** SMTPConnectError: the greeting was a refusal (e.g. 554 for a blocklisted client, 421 over a rate limit). */
  | { error: 'connect-error'; code: number; message: string }
  /** SMTPNotSupportedError, e.g. login() when the server offers no AUTH. */
  | { error: 'not-supported'; message: string };

export interface SmtplibResult {
  /** undefined when the script failed some other way (its traceback is in stderr). */
  outcome: SmtplibOutcome | undefined;
  /** The server's certificate (DER) when TLS was used. */
  peerCertificate?: Buffer;
  stderr: string;
  code: number | null;
}

const SEND = `
import json, smtplib, ssl, sys
o = json.loads(sys.argv[1])
if o.get('dataFile'):
    with open(o['dataFile'], 'rb') as f:
        data = f.read()
else:
    data = sys.stdin.buffer.read() if o['hasData'] else None
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def reply(b): return b.decode() if isinstance(b, bytes) else str(b)
def rcpts(d): return {k: [v[0], reply(v[1])] for k, v in d.items()}
out, cert = None, None
src = (o['source'], 0) if o.get('source') else None
try:
    if o.get('tls') == 'implicit':
        s = smtplib.SMTP_SSL('127.0.0.1', o['port'], local_hostname=o['ehlo'], timeout=o['timeout'], context=ctx, source_address=src)
    else:
        s = smtplib.SMTP('127.0.0.1', o['port'], local_hostname=o['ehlo'], timeout=o['timeout'], source_address=src)
    with s:
        s.ehlo()
        if o.get('tls') == 'starttls':
            s.starttls(context=ctx)
            s.ehlo()
        if o.get('tls'):
            cert = s.sock.getpeercert(binary_form=True).hex()
        login = None
        if o.get('auth'):
            code, msg = s.login(o['auth']['user'], o['auth']['password'])
            login = [code, reply(msg)]
        if data is None:
            out = {'loggedIn': login}
        else:
            opts = []
            if o.get('eightBit'):
                if 'smtputf8' in s.esmtp_features and any(b > 127 for b in (o['from'] + ''.join(o['to'])).encode()):
                    opts.append('SMTPUTF8')
                if '8bitmime' in s.esmtp_features:
                    opts.append('BODY=8BITMIME')
            out = {'refused': rcpts(s.sendmail(o['from'], o['to'], data, mail_options=opts))}
except smtplib.SMTPSenderRefused as e:
    out = {'error': 'sender-refused', 'code': e.smtp_code, 'message': reply(e.smtp_error)}
except smtplib.SMTPRecipientsRefused as e:
    out = {'error': 'rcpt-refused', 'recipients': rcpts(e.recipients)}
except smtplib.SMTPDataError as e:
    out = {'error': 'data-error', 'code': e.smtp_code, 'message': reply(e.smtp_error)}
except smtplib.SMTPAuthenticationError as e:
    out = {'error': 'auth-error', 'code': e.smtp_code, 'message': reply(e.smtp_error)}
except smtplib.SMTPConnectError as e:
    out = {'error': 'connect-error', 'code': e.smtp_code, 'message': reply(e.smtp_error)}
except smtplib.SMTPNotSupportedError as e:
    out = {'error': 'not-supported', 'message': str(e)}
print(json.dumps({'outcome': out, 'cert': cert}))
`;

function parse(r: RunResult): { outcome?: SmtplibOutcome; cert?: string | null } {
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as { outcome?: SmtplibOutcome; cert?: string | null };
  } catch {
    return {};
  }
}

/** One SMTP session with Python's smtplib: connect, optional TLS and AUTH, then one sendmail (if there is data). */
export async function smtplibSend(o: SmtplibSendOptions): Promise<SmtplibResult> {
  const timeoutS = Math.ceil((o.timeoutMs ?? 20_000) / 1000);
  const config = {
    port: o.port,
    from: o.from ?? '',
    to: o.to ?? [],
    hasData: o.data !== undefined,
    dataFile: o.dataFile,
    tls: o.tls,
    auth: o.auth,
    ehlo: o.ehlo ?? 'client.test',
    source: o.sourceAddress,
    eightBit: o.eightBitWhenOffered ?? false,
    timeout: timeoutS,
  };
  const r = await python(SEND, [JSON.stringify(config)], { input: o.data, timeoutMs: (timeoutS + 10) * 1000 });
  const { outcome, cert } = parse(r);
  return { outcome: outcome ?? undefined, peerCertificate: cert ? Buffer.from(cert, 'hex') : undefined, stderr: r.stderr, code: r.code };
}

const SEND_MANY = `
import json, smtplib, sys, threading
o = json.loads(sys.argv[1])
files, n = json.load(sys.stdin), o['connections']
errors = []
def send(part):
    try:
        with smtplib.SMTP('127.0.0.1', o['port'], local_hostname=o['ehlo'], timeout=o['timeout']) as s:
            s.ehlo()
            for f in part:
                with open(f, 'rb') as fh:
                    data = fh.read()
                refused = s.sendmail(o['from'], o['to'], data)
                if refused: errors.append([f, repr(refused)])
    except Exception as e:
        errors.append(['connection', repr(e)])
threads = [threading.Thread(target=send, args=(files[i::n],)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({'errors': errors}))
`;

export interface SmtplibSendManyOptions {
  port: number;
  from: string;
  to: string[];
  /** Files sent as read, one message each, spread over the connections. */
  files: string[];
  /** SMTP sessions in parallel (threads), each sending its share of the files in turn. */
  connections: number;
  ehlo?: string;
  /** smtplib's socket timeout per session. */
  timeoutMs?: number;
  /** How long the whole run may take before the script is killed. */
  runTimeoutMs?: number;
}

/** Many messages over several parallel smtplib sessions; returns what went wrong ([file or 'connection', why]). */
export async function smtplibSendMany(o: SmtplibSendManyOptions): Promise<{ errors: Array<[string, string]> | undefined; stderr: string }> {
  const timeoutS = Math.ceil((o.timeoutMs ?? 60_000) / 1000);
  const config = { port: o.port, from: o.from, to: o.to, connections: o.connections, ehlo: o.ehlo ?? 'client.test', timeout: timeoutS };
  // The file names go on stdin: thousands of paths would not fit an argument list.
  const r = await python(SEND_MANY, [JSON.stringify(config)], { input: JSON.stringify(o.files), timeoutMs: o.runTimeoutMs ?? 10 * 60_000 });
  const parsed = parse(r) as { errors?: Array<[string, string]> };
  return { errors: parsed.errors, stderr: r.stderr };
}
