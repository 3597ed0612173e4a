/**
 * The conformance scenarios' client: sends commands (literals and continuations included),
 * reads the responses, and checks them the way any correct server must answer, not the way one
 * server words it: atoms compare case-insensitively, quoted strings and literals are the same
 * string, FETCH items in any order and split over several FETCH responses, sequence sets as the
 * numbers they name. A command whose answer is not the expected one is a failed command: the
 * error carries the command and the whole answer.
 */
import { isDeepStrictEqual } from 'node:util';
import { deflateFace } from '../support/deflate-face.ts';
import { RawImap, type Reply } from '../support/raw-client.ts';

/** A parsed IMAP datum: atom (number, flag, NIL…) as `{ a }`, string as `{ s }`, list as array. */
export type Node = { a: string } | { s: string } | Node[];

/** Parses response text (literals inlined as `{n}` followed by their n octets) into data. */
export function parseData(text: string): Node[] {
  let i = 0;
  const items = (close: string | null): Node[] => {
    const out: Node[] = [];
    for (;;) {
      while (text[i] === ' ') i++;
      if (i >= text.length) {
        if (close) throw new Error(`unclosed list in ${JSON.stringify(text)}`);
        return out;
      }
      const ch = text[i];
      if (ch === ')' || ch === ']') {
        if (ch !== close) throw new Error(`unexpected ${ch} at ${i} in ${JSON.stringify(text)}`);
        i++;
        return out;
      }
      if (ch === '(') {
        i++;
        out.push(items(')'));
      } else if (ch === '"') {
        let s = '';
        i++;
        while (text[i] !== '"') {
          if (i >= text.length) throw new Error(`unclosed string in ${JSON.stringify(text)}`);
          if (text[i] === '\\') i++;
          s += text[i++];
        }
        i++;
        out.push({ s });
      } else if (/^~?\{\d+\+?\}/.test(text.slice(i))) {
        const m = /^~?\{(\d+)\+?\}/.exec(text.slice(i))!;
        i += m[0].length;
        out.push({ s: text.slice(i, i + Number(m[1])) });
        i += Number(m[1]);
      } else {
        // An atom; a bracketed part (BODY[HEADER.FIELDS (A B)], [READ-WRITE]) belongs to it.
        let a = '';
        while (i < text.length && !' ()"'.includes(text[i]) && !(text[i] === ']' && close === ']')) {
          if (text[i] === '[') {
            let depth = 0;
            do {
              if (text[i] === '[') depth++;
              else if (text[i] === ']') depth--;
              a += text[i++];
            } while (depth > 0 && i < text.length);
          } else a += text[i++];
        }
        out.push({ a });
      }
    }
  };
  return items(null);
}

/**
 * A datum in a form that compares as IMAP defines equality: atoms upper-cased, strings kept
 * (or upper-cased with `ciStrings`, for values RFC 2045 makes case-insensitive such as MIME
 * types and parameter names), NIL as null.
 */
export function canon(n: Node, ciStrings = false): unknown {
  if (Array.isArray(n)) return n.map((x) => canon(x, ciStrings));
  if ('a' in n) return n.a.toUpperCase() === 'NIL' ? null : n.a.toUpperCase();
  return ciStrings ? n.s.toUpperCase() : n.s;
}

export function atomOrString(n: Node | undefined): string {
  if (!n || Array.isArray(n)) throw new Error(`expected an atom or string, got ${JSON.stringify(n)}`);
  return 'a' in n ? n.a : n.s;
}

/** The numbers a sequence set names (`1:3,7` → 1 2 3 7); `*` is not allowed here. */
export function expandSet(set: string | undefined): number[] {
  const out: number[] = [];
  if (set === undefined) return out;
  for (const part of set.split(',')) {
    const [a, b] = part.split(':').map(Number);
    const lo = Math.min(a, b ?? a);
    const hi = Math.max(a, b ?? a);
    for (let n = lo; n <= hi; n++) out.push(n);
  }
  return out;
}

export class CommandFailure extends Error {}

/** One command's answer. */
export class Answer {
  readonly status: string;
  /** The response code of the tagged line, without brackets (`APPENDUID 38505 3955`), or ''. */
  readonly code: string;
  readonly command: string;
  readonly reply: Reply;
  constructor(command: string, reply: Reply) {
    this.command = command;
    this.reply = reply;
    const m = /^\S+ (OK|NO|BAD)(?: \[([^\]]*)\])?/i.exec(reply.tagged);
    this.status = m ? m[1].toUpperCase() : '?';
    this.code = m?.[2] ?? '';
  }

  get untagged(): string[] {
    return this.reply.untagged;
  }

  transcript(): string {
    return `C: ${this.command.slice(0, 400)}\n${[...this.untagged, this.reply.tagged].map((l) => `S: ${l.slice(0, 400)}`).join('\n')}`;
  }

  fail(why: string): never {
    throw new CommandFailure(`${why}\n${this.transcript()}`);
  }

  /** Untagged responses matching `re` (tested against the line). */
  all(re: RegExp): RegExpExecArray[] {
    return this.untagged.map((l) => re.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  }

  has(re: RegExp): boolean {
    return this.all(re).length > 0;
  }

  /** The one untagged response matching `re`; a failed command if none or several. */
  one(re: RegExp): RegExpExecArray {
    const found = this.all(re);
    if (found.length !== 1) this.fail(`expected exactly one untagged response matching ${re}, got ${found.length}`);
    return found[0];
  }

  none(re: RegExp): void {
    if (this.has(re)) this.fail(`expected no untagged response matching ${re}`);
  }

  codeMatches(re: RegExp): RegExpExecArray {
    const m = re.exec(this.code);
    if (!m) this.fail(`expected the response code to match ${re}`);
    return m;
  }

  /** A failed command unless `actual` deep-equals `expected`. */
  expectEqual(what: string, actual: unknown, expected: unknown): void {
    if (!isDeepStrictEqual(actual, expected)) this.fail(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }

  /** FETCH item `name` of message `seq` equals the datum written as `expected` (IMAP syntax). */
  expectItem(seq: number, name: string, expected: string, ciStrings = false): void {
    const item = this.fetchOf(seq)[name.toUpperCase()];
    if (item === undefined) this.fail(`expected ${name} in the FETCH response of message ${seq}`);
    this.expectEqual(`${name} of message ${seq}`, canon(item, ciStrings), canon(parseData(expected)[0], ciStrings));
  }

  /** The octets of string item `name` of message `seq`. */
  text(seq: number, name: string): string {
    const item = this.fetchOf(seq)[name.toUpperCase()];
    if (item === undefined) this.fail(`expected ${name} in the FETCH response of message ${seq}`);
    if (Array.isArray(item) || 'a' in item) this.fail(`${name} of message ${seq} is not a string`);
    return item.s;
  }

  /** The flags of message `seq` (upper-cased, sorted, \\Recent left out). */
  flags(seq: number): string[] {
    const f = canon(this.fetchOf(seq).FLAGS ?? this.fail(`expected FLAGS for message ${seq}`)) as string[];
    return f.filter((x) => x !== '\\RECENT').sort();
  }

  /** FETCH data per message number, items merged over all FETCH responses of that message. */
  fetch(): Map<number, Record<string, Node>> {
    const out = new Map<number, Record<string, Node>>();
    for (const l of this.untagged) {
      const m = /^\* (\d+) FETCH (.*)$/is.exec(l);
      if (!m) continue;
      const [list] = parseData(m[2]);
      if (!Array.isArray(list) || list.length % 2) this.fail(`malformed FETCH data: ${l}`);
      const rec = out.get(Number(m[1])) ?? {};
      for (let k = 0; k < list.length; k += 2) rec[atomOrString(list[k]).toUpperCase()] = list[k + 1];
      out.set(Number(m[1]), rec);
    }
    return out;
  }

  /** The FETCH items of message `seq`; a failed command if the server sent none. */
  fetchOf(seq: number): Record<string, Node> {
    const r = this.fetch().get(seq);
    if (!r) this.fail(`expected a FETCH response for message ${seq}`);
    return r;
  }

  /** The numbers of the (one) `* SEARCH` or `* SORT` response, in the server's order. */
  numbers(kind = 'SEARCH'): number[] {
    const m = this.one(new RegExp(`^\\* ${kind}\\b(.*)$`, 'i'));
    // CONDSTORE adds "(MODSEQ n)" at the end.
    return m[1]
      .replace(/\(MODSEQ \d+\)/i, '')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  }

  /** The `* ESEARCH` response as its tag and return items (ALL expanded to numbers). */
  esearch(): { tag: string | null; uid: boolean; items: Record<string, string> } {
    const m = this.one(/^\* ESEARCH\b ?(.*)$/i);
    const data = parseData(m[1]);
    let tag: string | null = null;
    let uid = false;
    let k = 0;
    if (Array.isArray(data[0])) {
      const [name, value] = data[0];
      if (atomOrString(name).toUpperCase() !== 'TAG') this.fail('ESEARCH correlator is not (TAG ...)');
      tag = atomOrString(value);
      k = 1;
    }
    if (data[k] && !Array.isArray(data[k]) && atomOrString(data[k]).toUpperCase() === 'UID') {
      uid = true;
      k++;
    }
    const items: Record<string, string> = {};
    for (; k < data.length; k += 2) items[atomOrString(data[k]).toUpperCase()] = atomOrString(data[k + 1]);
    return { tag, uid, items };
  }
}

/** Encodes text as UTF-8 octets held in a latin1 string (the wire form the client writes). */
export function utf8(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/**
 * Marks where a synchronizing literal's octets start in a command text: the client waits for the
 * server's continuation request there. A private-use character, so never one of the latin1
 * octets a command or message is made of (a message may well contain text like `{12}`).
 */
export const AWAIT_CONTINUATION = '\uE000';

/** A synchronizing literal for `s` (latin1 octets). */
export function lit(s: string): string {
  return `{${s.length}}\r\n${AWAIT_CONTINUATION}${s}`;
}

/** A synchronizing literal8 (RFC 3516 §4.3) for `s`. */
export function lit8(s: string): string {
  return `~{${s.length}}\r\n${AWAIT_CONTINUATION}${s}`;
}

export class Client {
  private n = 0;
  raw: RawImap;
  readonly caps: Set<string>;
  constructor(raw: RawImap, caps: Set<string>) {
    this.raw = raw;
    this.caps = caps;
  }

  static async connect(port: number, tls: boolean): Promise<{ client: Client; greeting: string }> {
    const raw = await RawImap.connect(port, { tls });
    const greeting = await raw.line();
    return { client: new Client(raw, new Set()), greeting };
  }

  tag(): string {
    return `C${++this.n}`;
  }

  /**
   * Sends a command and reads its answer. Where the text has a literal made by lit() or lit8(),
   * its octets go only after the server's continuation request (RFC 9051 §7.5).
   */
  async send(command: string, timeoutMs = 10_000): Promise<Answer> {
    const tag = this.tag();
    const pieces = `${tag} ${command}\r\n`.split(AWAIT_CONTINUATION);
    const early: string[] = [];
    for (let p = 0; p < pieces.length; p++) {
      this.raw.write(Buffer.from(pieces[p], 'latin1'));
      if (p < pieces.length - 1) {
        for (;;) {
          const l = await this.raw.response(timeoutMs);
          if (l.startsWith('+')) break;
          if (l.startsWith(tag + ' ')) return new Answer(command.replaceAll(AWAIT_CONTINUATION, ''), { untagged: early, tagged: l, literals: [] });
          early.push(l);
        }
      }
    }
    const reply = await this.raw.until(tag, timeoutMs);
    reply.untagged.unshift(...early);
    return new Answer(command.replaceAll(AWAIT_CONTINUATION, ''), reply);
  }

  private async expectStatus(status: string, command: string): Promise<Answer> {
    const a = await this.send(command);
    if (a.status !== status) a.fail(`expected ${status}`);
    return a;
  }

  ok(command: string): Promise<Answer> {
    return this.expectStatus('OK', command);
  }

  no(command: string): Promise<Answer> {
    return this.expectStatus('NO', command);
  }

  bad(command: string): Promise<Answer> {
    return this.expectStatus('BAD', command);
  }

  /** NO or BAD: a refusal where the RFC leaves the choice to the server. */
  async refused(command: string): Promise<Answer> {
    const a = await this.send(command);
    if (a.status !== 'NO' && a.status !== 'BAD') a.fail('expected NO or BAD');
    return a;
  }

  /** APPENDs a message (latin1 octets) and returns the answer (OK expected). */
  append(mailbox: string, message: string, options: { flags?: string; date?: string } = {}): Promise<Answer> {
    const flags = options.flags !== undefined ? ` (${options.flags})` : '';
    const date = options.date ? ` "${options.date}"` : '';
    return this.ok(`APPEND ${mailbox}${flags}${date} ${lit(message)}`);
  }

  /** Writes raw octets (for IDLE's DONE and continuation-driven commands). */
  write(text: string): void {
    this.raw.write(Buffer.from(text, 'latin1'));
  }

  /** After COMPRESS DEFLATE's OK: everything after it goes through deflate (RFC 4978 §3). */
  startDeflate(): void {
    const { face } = deflateFace(this.raw.socket);
    this.raw = new RawImap(face);
  }

  close(): void {
    this.raw.close();
  }
}
