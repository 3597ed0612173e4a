/**
 * The XML that WebDAV request bodies need (RFC 4918 §8.2 Namespaces in XML, UTF-8), read into
 * a small tree of namespace-qualified elements, and the writing of answers.
 *
 * Why our own: the bodies are small (PROPFIND, REPORT), and the project has no XML parser
 * dependency. What is refused: a DOCTYPE (no entity declarations, so no entity expansion or
 * external entities), undeclared prefixes, mismatched tags, more than MAX_DEPTH levels or
 * MAX_ELEMENTS elements. Errors are XmlError, which the handlers answer with 400.
 */

export const DAV_NS = 'DAV:';
export const CARDDAV_NS = 'urn:ietf:params:xml:ns:carddav';
export const CS_NS = 'http://calendarserver.org/ns/';

const MAX_DEPTH = 32;
const MAX_ELEMENTS = 20_000;

export class XmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlError';
  }
}

export interface XmlElement {
  ns: string;
  /** Local name. */
  name: string;
  /** Attributes without a prefix, by local name (namespace declarations left out). */
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The concatenated character data directly inside the element. */
  text: string;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9A-Fa-f]{1,6}|#[0-9]{1,7}|[a-z]+);|&/g, (whole, ref: string | undefined) => {
    if (ref === undefined) throw new XmlError('a bare & in character data');
    if (ref.startsWith('#')) {
      const cp = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!(cp > 0 && cp <= 0x10ffff)) throw new XmlError(`bad character reference ${whole}`);
      return String.fromCodePoint(cp);
    }
    const e = ENTITIES[ref];
    if (e === undefined) throw new XmlError(`unknown entity ${whole}`);
    return e;
  });
}

const NAME = '[A-Za-z_][A-Za-z0-9._-]*(?::[A-Za-z_][A-Za-z0-9._-]*)?';
const ATTR_RE = new RegExp(`\\s+(${NAME})\\s*=\\s*("[^"<]*"|'[^'<]*')`, 'y');
const START_RE = new RegExp(`<(${NAME})`, 'y');

/** Parses a whole document; its root element. */
export function parseXml(input: Buffer | string): XmlElement {
  let text: string;
  try {
    text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    throw new XmlError('the body is not UTF-8');
  }
  let pos = 0;
  let count = 0;
  let root: XmlElement | null = null;
  const stack: Array<{ el: XmlElement; qname: string; nsMap: Map<string, string> }> = [];
  const topNs = new Map<string, string>([['xml', 'http://www.w3.org/XML/1998/namespace']]);

  const resolve = (qname: string, nsMap: Map<string, string>, isAttr: boolean): { ns: string; name: string } => {
    const i = qname.indexOf(':');
    if (i < 0) return { ns: isAttr ? '' : (nsMap.get('') ?? ''), name: qname };
    const prefix = qname.slice(0, i);
    const ns = nsMap.get(prefix);
    if (ns === undefined) throw new XmlError(`undeclared namespace prefix ${prefix}`);
    return { ns, name: qname.slice(i + 1) };
  };

  while (pos < text.length) {
    const lt = text.indexOf('<', pos);
    const chunk = lt < 0 ? text.slice(pos) : text.slice(pos, lt);
    if (chunk !== '') {
      if (stack.length === 0) {
        if (chunk.trim() !== '' && !(pos === 0 && chunk.trim() === '\uFEFF')) throw new XmlError('text outside the root element');
      } else stack[stack.length - 1].el.text += decodeEntities(chunk);
    }
    if (lt < 0) break;
    pos = lt;
    if (text.startsWith('<?', pos)) {
      const end = text.indexOf('?>', pos);
      if (end < 0) throw new XmlError('unterminated processing instruction');
      pos = end + 2;
    } else if (text.startsWith('<!--', pos)) {
      const end = text.indexOf('-->', pos + 4);
      if (end < 0) throw new XmlError('unterminated comment');
      pos = end + 3;
    } else if (text.startsWith('<![CDATA[', pos)) {
      const end = text.indexOf(']]>', pos);
      if (end < 0 || stack.length === 0) throw new XmlError('bad CDATA section');
      stack[stack.length - 1].el.text += text.slice(pos + 9, end);
      pos = end + 3;
    } else if (text.startsWith('<!', pos)) {
      throw new XmlError('DOCTYPE and declarations are not accepted');
    } else if (text.startsWith('</', pos)) {
      const end = text.indexOf('>', pos);
      if (end < 0) throw new XmlError('unterminated end tag');
      const qname = text.slice(pos + 2, end).trim();
      const top = stack.pop();
      if (!top || top.qname !== qname) throw new XmlError(`end tag </${qname}> does not match`);
      pos = end + 1;
    } else {
      START_RE.lastIndex = pos;
      const m = START_RE.exec(text);
      if (!m) throw new XmlError('bad start tag');
      const qname = m[1];
      pos = START_RE.lastIndex;
      const rawAttrs: Array<[string, string]> = [];
      for (;;) {
        ATTR_RE.lastIndex = pos;
        const a = ATTR_RE.exec(text);
        if (!a) break;
        rawAttrs.push([a[1], decodeEntities(a[2].slice(1, -1))]);
        pos = ATTR_RE.lastIndex;
      }
      const close = /\s*(\/?)>/y;
      close.lastIndex = pos;
      const c = close.exec(text);
      if (!c) throw new XmlError(`bad start tag <${qname}>`);
      pos = close.lastIndex;
      if (stack.length === 0 && root) throw new XmlError('more than one root element');
      if (stack.length >= MAX_DEPTH) throw new XmlError('elements nested too deep');
      if (++count > MAX_ELEMENTS) throw new XmlError('too many elements');
      const nsMap = new Map(stack.length ? stack[stack.length - 1].nsMap : topNs);
      for (const [k, v] of rawAttrs) {
        if (k === 'xmlns') nsMap.set('', v);
        else if (k.startsWith('xmlns:')) nsMap.set(k.slice(6), v);
      }
      const { ns, name } = resolve(qname, nsMap, false);
      const attrs: Record<string, string> = {};
      for (const [k, v] of rawAttrs) if (k !== 'xmlns' && !k.startsWith('xmlns:') && !k.includes(':')) attrs[k] = v;
      const el: XmlElement = { ns, name, attrs, children: [], text: '' };
      if (stack.length) stack[stack.length - 1].el.children.push(el);
      else root = el;
      if (c[1] !== '/') stack.push({ el, qname, nsMap });
    }
  }
  if (stack.length) throw new XmlError(`unclosed element <${stack[stack.length - 1].qname}>`);
  if (!root) throw new XmlError('no root element');
  return root;
}

export const is = (el: XmlElement | undefined, ns: string, name: string): boolean => el !== undefined && el.ns === ns && el.name === name;
export const child = (el: XmlElement, ns: string, name: string): XmlElement | undefined => el.children.find((c) => is(c, ns, name));
export const childrenOf = (el: XmlElement, ns: string, name: string): XmlElement[] => el.children.filter((c) => is(c, ns, name));

export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** The prefix of our answers for each namespace we write (others get an xmlns of their own). */
const PREFIXES: Record<string, string> = { [DAV_NS]: 'd', [CARDDAV_NS]: 'card', [CS_NS]: 'cs' };
export const NS_DECLARATIONS = `xmlns:d="DAV:" xmlns:card="${CARDDAV_NS}" xmlns:cs="${CS_NS}"`;

/** `<p:name>inner</p:name>` (or an empty element), for a namespace we write; `inner` is XML already. */
export function el(ns: string, name: string, inner = ''): string {
  const p = PREFIXES[ns];
  const tag = p ? `${p}:${name}` : name;
  const decl = p ? '' : ` xmlns="${xmlEscape(ns)}"`;
  return inner === '' ? `<${tag}${decl}/>` : `<${tag}${decl}>${inner}</${tag}>`;
}
