/**
 * ENVELOPE, BODY and BODYSTRUCTURE as written on the wire (RFC 3501 §7.4.2, RFC 9051 §7.5.2),
 * from the structures the indexer stored (core/mime/types.ts): FETCH of these items reads
 * only the index.
 */
import type { Envelope, EnvelopeAddress, MimePart } from '#core/mime/types.ts';
import { nstringChunks, pushNstring, stringChunks, type Chunk, type EncodeOptions } from './encode.ts';

function addressList(list: EnvelopeAddress[] | null, opts: EncodeOptions, out: Chunk[]): void {
  if (!list || list.length === 0) {
    out.push('NIL');
    return;
  }
  out.push('(');
  for (const a of list) {
    out.push('(');
    pushNstring(out, a.name, opts);
    out.push(' ');
    pushNstring(out, a.adl, opts);
    out.push(' ');
    pushNstring(out, a.mailbox, opts);
    out.push(' ');
    pushNstring(out, a.host, opts);
    out.push(')');
  }
  out.push(')');
}

/**
 * `(date subject from sender reply-to to cc bcc in-reply-to message-id)`. Sender and
 * Reply-To default to From when absent or empty (RFC 3501 §7.4.2 ENVELOPE).
 */
export function envelopeChunks(env: Envelope, opts: EncodeOptions, out: Chunk[] = []): Chunk[] {
  const from = env.from && env.from.length > 0 ? env.from : null;
  out.push('(');
  pushNstring(out, env.date, opts);
  out.push(' ');
  pushNstring(out, env.subject, opts);
  out.push(' ');
  addressList(from, opts, out);
  out.push(' ');
  addressList(env.sender && env.sender.length > 0 ? env.sender : from, opts, out);
  out.push(' ');
  addressList(env.replyTo && env.replyTo.length > 0 ? env.replyTo : from, opts, out);
  out.push(' ');
  addressList(env.to, opts, out);
  out.push(' ');
  addressList(env.cc, opts, out);
  out.push(' ');
  addressList(env.bcc, opts, out);
  out.push(' ');
  pushNstring(out, env.inReplyTo, opts);
  out.push(' ');
  pushNstring(out, env.messageId, opts);
  out.push(')');
  return out;
}

function paramList(params: Array<[string, string]>, opts: EncodeOptions, out: Chunk[]): void {
  if (params.length === 0) {
    out.push('NIL');
    return;
  }
  out.push('(');
  params.forEach(([k, v], i) => {
    if (i > 0) out.push(' ');
    out.push(...stringChunks(k, opts), ' ', ...stringChunks(v, opts));
  });
  out.push(')');
}

function isMessagePart(part: MimePart): boolean {
  return part.type === 'message' && (part.subtype === 'rfc822' || part.subtype === 'global') && part.message !== null;
}

/** Parameters, with the RFC 2045 §5.2 default charset for text parts that name none. */
function partParams(part: MimePart): Array<[string, string]> {
  if (part.type === 'text' && !part.params.some(([k]) => k === 'charset')) return [['charset', 'us-ascii'], ...part.params];
  return part.params;
}

function extensionTail(part: MimePart, opts: EncodeOptions, out: Chunk[]): void {
  // body-fld-dsp SP body-fld-lang SP body-fld-loc
  out.push(' ');
  if (part.disposition) {
    out.push('(', ...stringChunks(part.disposition.type, opts), ' ');
    paramList(part.disposition.params, opts, out);
    out.push(')');
  } else out.push('NIL');
  out.push(' ');
  if (part.language && part.language.length > 0) {
    if (part.language.length === 1) out.push(...stringChunks(part.language[0], opts));
    else {
      out.push('(');
      part.language.forEach((l, i) => {
        if (i > 0) out.push(' ');
        out.push(...stringChunks(l, opts));
      });
      out.push(')');
    }
  } else out.push('NIL');
  out.push(' ');
  out.push(...nstringChunks(part.location, opts));
}

const EMPTY_TEXT: MimePart = {
  headerStart: 0,
  bodyStart: 0,
  bodyEnd: 0,
  type: 'text',
  subtype: 'plain',
  params: [],
  id: null,
  description: null,
  encoding: '7BIT',
  size: 0,
  lines: 0,
  md5: null,
  disposition: null,
  language: null,
  location: null,
  children: [],
  message: null,
};

/**
 * BODYSTRUCTURE (extensible = true) or BODY (false) of one MIME node.
 * Recursion depth is bounded by the indexer's nesting limit.
 */
export function bodyStructureChunks(part: MimePart, extensible: boolean, opts: EncodeOptions, out: Chunk[] = []): Chunk[] {
  out.push('(');
  if (part.type === 'multipart') {
    const children = part.children.length > 0 ? part.children : [EMPTY_TEXT];
    for (const child of children) bodyStructureChunks(child, extensible, opts, out);
    out.push(' ', ...stringChunks(part.subtype, opts));
    if (extensible) {
      out.push(' ');
      paramList(part.params, opts, out);
      extensionTail(part, opts, out);
    }
    out.push(')');
    return out;
  }
  out.push(...stringChunks(part.type, opts), ' ', ...stringChunks(part.subtype, opts), ' ');
  paramList(partParams(part), opts, out);
  out.push(' ', ...nstringChunks(part.id, opts));
  out.push(' ', ...nstringChunks(part.description, opts));
  out.push(' ', ...stringChunks(part.encoding, opts));
  out.push(' ', String(part.size));
  if (isMessagePart(part)) {
    out.push(' ');
    envelopeChunks(part.message!.envelope, opts, out);
    out.push(' ');
    bodyStructureChunks(part.message!.body, extensible, opts, out);
    out.push(' ', String(part.lines));
  } else if (part.type === 'text') {
    out.push(' ', String(part.lines));
  }
  if (extensible) {
    out.push(' ', ...nstringChunks(part.md5, opts));
    extensionTail(part, opts, out);
  }
  out.push(')');
  return out;
}
