/**
 * CardDAV (RFC 6352) on WebDAV (RFC 4918) with sync-collection (RFC 6578), on the HTTPS
 * listener: the URL layout is in paths.ts, the store is the ContactStore port
 * (core/ports/contacts.ts).
 *
 *  - Authentication: HTTP Basic through the JMAP authenticator (jmap/auth.ts), so the same
 *    failed-login throttle as IMAP, POP3, submission and JMAP applies, and credentials only
 *    over TLS (or loopback in development when allowed).
 *  - Discovery (RFC 6764 §5, RFC 5397, RFC 6352 §7.1): `/.well-known/carddav` redirects to
 *    `/dav/`, whose PROPFIND gives current-user-principal; the principal gives
 *    addressbook-home-set. The first look at the home (or at the default book) of a user with
 *    no book creates the default book "Contacts" (id `default`).
 *  - Methods: OPTIONS (answered by the listener, with the DAV header below), PROPFIND (Depth
 *    0/1; allprop, prop, propname), REPORT (addressbook-multiget, addressbook-query,
 *    sync-collection), GET/HEAD, PUT and DELETE with strong ETags and If-Match /
 *    If-None-Match (412), MKCOL (extended, RFC 5689) and DELETE of a book.
 *  - Storage (RFC 6350 as the stored form): a vCard 3.0 PUT is stored converted to 4.0
 *    (vcard-version.ts) with the version the client wrote (the store's clientVersion); a
 *    GET/REPORT that does not ask for a version answers in that one, so a 3.0-only client
 *    reads 3.0; an Accept header or address-data version that asks wins. The ETag names the
 *    stored card and the version served (servedEtag), and a PUT whose body was converted
 *    answers without one (RFC 6352 §6.3.2.3, RFC 9110 §9.3.4): the client GETs the card.
 *  - Errors carry a DAV:error body with the precondition of RFC 6352 §6.3.2.1 / RFC 6578 §3.7
 *    where one applies (valid-address-data, no-uid-conflict, max-resource-size,
 *    valid-sync-token, supported-report). Another user's URLs are answered 404 exactly as a
 *    URL that names nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { VCardError, checkVCard } from '#core/contacts/vcard.ts';
import { requestedVersion, toVCard3, toVCard4 } from '#core/contacts/vcard-version.ts';
import type { MailboxEvents } from '#core/mailbox/events.ts';
import {
  CONTACTS_CHANGED,
  ContactError,
  MAX_VCARD_BYTES,
  type AddressBook,
  type ContactInfo,
  type ContactStore,
  type StoredContact,
  type VCardVersion,
} from '#core/ports/contacts.ts';
import type { MailIndex } from '#core/ports/mail-index.ts';
import type { AuthThrottle } from '../auth-throttle.ts';
import { BodyTooLargeError, readBody, type HttpRequestContext, type HttpRoute } from '../http/routes.ts';
import { BasicAuthenticator } from '../jmap/auth.ts';
import { DAV_ROOT, hrefPath, hrefs, parseDavPath, type DavTarget } from './paths.ts';
import { UnsupportedFilterError, cardMatches, parseFilter } from './query.ts';
import { CARDDAV_NS, CS_NS, DAV_NS, NS_DECLARATIONS, XmlError, child, childrenOf, el, is, parseXml, xmlEscape, type XmlElement } from './xml.ts';

export const DEFAULT_BOOK = { id: 'default', displayName: 'Contacts' } as const;
/** What OPTIONS says (RFC 4918 §10.1, RFC 6352 §6.1). */
export const DAV_HEADER = '1, 3, extended-mkcol, addressbook';
const METHODS = ['GET', 'PUT', 'DELETE', 'PROPFIND', 'REPORT', 'MKCOL'];
const VCARD_TYPE = 'text/vcard; charset=utf-8';
/** Largest PROPFIND/REPORT body (a multiget of many hrefs fits). */
const MAX_XML_BYTES = 1024 * 1024;

export interface CardDavDeps {
  index: MailIndex;
  contacts: ContactStore;
  throttle: AuthThrottle;
  allowPlaintextAuthOnLoopback: boolean;
  /** Told of every write (CONTACTS_CHANGED), so JMAP push reports it. */
  events?: MailboxEvents;
}

interface Resource {
  href: string;
  target: DavTarget;
  book?: AddressBook;
  card?: ContactInfo;
  /** The ETag served for the card (servedEtag). */
  etag?: string;
  data?: Buffer;
}

type PropRequest = { kind: 'all' } | { kind: 'names' } | { kind: 'props'; props: Array<{ ns: string; name: string }> };

/** An answer with a DAV:error body (RFC 4918 §16). */
class DavError extends Error {
  readonly status: number;
  readonly body: string;
  constructor(status: number, condition: string, message: string) {
    super(message);
    this.status = status;
    this.body = condition;
  }
}

/**
 * The version a card is served in: the one the client asked for (RFC 6352 §10.4.1), else the
 * one its CardDAV writer sent (clientVersion), else as stored (null).
 */
const servedVersion = (c: ContactInfo, asked: VCardVersion | null): VCardVersion | null => asked ?? c.clientVersion ?? null;

/** The card in a version (as stored for null, or when it does not convert). */
function inVersion(data: Buffer, version: VCardVersion | null): Buffer {
  if (!version) return data;
  try {
    return version === '3.0' ? toVCard3(data) : toVCard4(data);
  } catch {
    return data;
  }
}

/**
 * The strong ETag (unquoted) of a card served in a version: the stored card's ETag when the
 * bytes served are the stored ones, else that ETag with `.v3` / `.v4`, so each representation
 * has its own and it does not change until the card does. Cards are stored as 4.0 (CardDAV
 * converts 3.0 PUTs, JMAP and import write 4.0); only cards stored before that may be 3.0, and
 * those have no clientVersion. So without the bytes (a PROPFIND listing), a card served in its
 * clientVersion 3.0 is a converted one, and one served as stored or in 4.0 is not.
 */
function servedEtag(c: ContactInfo, version: VCardVersion | null, data?: Buffer): string {
  if (!version) return c.etag;
  if (data) {
    // VERSION comes right after BEGIN:VCARD (RFC 6350 §6.7.9); a full parse only when it does not.
    let stored = /\nVERSION:[ \t]*([34]\.0)[ \t]*\r?\n/i.exec(data.subarray(0, 256).toString('latin1'))?.[1] as VCardVersion | undefined;
    if (stored === undefined) {
      try {
        stored = checkVCard(data).version;
      } catch {
        return c.etag; // served as stored (inVersion)
      }
    }
    return stored === version ? c.etag : `${c.etag}.v${version[0]}`;
  }
  return version === '3.0' ? `${c.etag}.v3` : c.etag;
}

/** An ETag a client sent, as the stored card's (the version suffix of servedEtag removed). */
const storedEtagOf = (etag: string | undefined) => (etag === undefined || etag === '*' ? etag : etag.replace(/\.v[34]$/, ''));

const syncTokenOf = (b: AddressBook) => `urn:cloudmail:sync:${b.createdAt}-${b.syncToken}`;
const quoted = (etag: string) => `"${etag}"`;

function parseSyncToken(token: string, book: AddressBook): number | null {
  const m = /^urn:cloudmail:sync:(\d+)-(\d+)$/.exec(token.trim());
  if (!m || Number(m[1]) !== book.createdAt) return null;
  const n = Number(m[2]);
  return n <= book.syncToken ? n : null;
}

const PRIVILEGES = ['read', 'write', 'write-properties', 'write-content', 'bind', 'unbind', 'read-current-user-privilege-set']
  .map((p) => el(DAV_NS, 'privilege', el(DAV_NS, p)))
  .join('');

/** The value (inner XML) of a property of a resource, or undefined when it has none. */
function propValue(r: Resource, ns: string, name: string): string | undefined {
  const t = r.target;
  const user = t.user;
  if (ns === DAV_NS) {
    switch (name) {
      case 'resourcetype':
        if (t.kind === 'card') return '';
        if (t.kind === 'principal') return el(DAV_NS, 'collection') + el(DAV_NS, 'principal');
        if (t.kind === 'book') return el(DAV_NS, 'collection') + el(CARDDAV_NS, 'addressbook');
        return el(DAV_NS, 'collection');
      case 'displayname':
        if (t.kind === 'book') return xmlEscape(r.book!.displayName);
        if (t.kind === 'principal') return xmlEscape(user);
        if (t.kind === 'home') return 'Address books';
        return undefined;
      case 'current-user-principal':
        return el(DAV_NS, 'href', xmlEscape(hrefs.principal(user)));
      case 'principal-URL':
        return t.kind === 'principal' ? el(DAV_NS, 'href', xmlEscape(hrefs.principal(user))) : undefined;
      case 'owner':
        return t.kind === 'home' || t.kind === 'book' ? el(DAV_NS, 'href', xmlEscape(hrefs.principal(user))) : undefined;
      case 'current-user-privilege-set':
        return t.kind === 'root' ? undefined : PRIVILEGES;
      case 'supported-report-set':
        return t.kind === 'book'
          ? ['sync-collection', 'addressbook-multiget', 'addressbook-query']
              .map((rep) => el(DAV_NS, 'supported-report', el(DAV_NS, 'report', el(rep === 'sync-collection' ? DAV_NS : CARDDAV_NS, rep))))
              .join('')
          : undefined;
      case 'sync-token':
        return t.kind === 'book' ? xmlEscape(syncTokenOf(r.book!)) : undefined;
      case 'getetag':
        return r.card ? xmlEscape(quoted(r.etag ?? servedEtag(r.card, servedVersion(r.card, null)))) : undefined;
      case 'getcontenttype':
        return r.card ? VCARD_TYPE : undefined;
      case 'getcontentlength':
        return r.card ? String(r.card.size) : undefined;
    }
    return undefined;
  }
  if (ns === CARDDAV_NS) {
    switch (name) {
      case 'addressbook-home-set':
        return t.kind === 'root' || t.kind === 'principal' ? el(DAV_NS, 'href', xmlEscape(hrefs.home(user))) : undefined;
      case 'addressbook-description':
        return t.kind === 'book' && r.book!.description ? xmlEscape(r.book!.description) : undefined;
      case 'supported-address-data':
        return t.kind === 'book'
          ? `<card:address-data-type content-type="text/vcard" version="3.0"/><card:address-data-type content-type="text/vcard" version="4.0"/>`
          : undefined;
      case 'max-resource-size':
        return t.kind === 'book' ? String(MAX_VCARD_BYTES) : undefined;
      case 'address-data':
        // CR as a character reference: an XML parser turns a literal CRLF into LF (XML 1.0
        // §2.11), and the card must come back byte for byte.
        return r.data ? xmlEscape(r.data.toString('utf8')).replace(/\r/g, '&#13;') : undefined;
    }
    return undefined;
  }
  if (ns === CS_NS && name === 'getctag') return t.kind === 'book' ? xmlEscape(syncTokenOf(r.book!)) : undefined;
  return undefined;
}

/** What allprop and propname cover (RFC 4918 §9.1: the live properties defined here). */
const ALL_PROPS: Array<{ ns: string; name: string }> = [
  { ns: DAV_NS, name: 'resourcetype' },
  { ns: DAV_NS, name: 'displayname' },
  { ns: DAV_NS, name: 'getetag' },
  { ns: DAV_NS, name: 'getcontenttype' },
  { ns: DAV_NS, name: 'getcontentlength' },
  { ns: DAV_NS, name: 'sync-token' },
  { ns: DAV_NS, name: 'current-user-principal' },
  { ns: DAV_NS, name: 'principal-URL' },
  { ns: DAV_NS, name: 'owner' },
  { ns: CARDDAV_NS, name: 'addressbook-home-set' },
  { ns: CARDDAV_NS, name: 'addressbook-description' },
  { ns: CARDDAV_NS, name: 'supported-address-data' },
  { ns: CS_NS, name: 'getctag' },
];

const status = (code: number, text: string) => el(DAV_NS, 'status', `HTTP/1.1 ${code} ${text}`);

function response(r: Resource, req: PropRequest): string {
  const found: string[] = [];
  const missing: string[] = [];
  if (req.kind === 'names') {
    for (const p of ALL_PROPS) if (propValue(r, p.ns, p.name) !== undefined) found.push(el(p.ns, p.name));
  } else {
    for (const p of req.kind === 'all' ? ALL_PROPS : req.props) {
      const v = propValue(r, p.ns, p.name);
      if (v !== undefined) found.push(el(p.ns, p.name, v));
      else if (req.kind === 'props') missing.push(el(p.ns, p.name));
    }
  }
  let out = el(DAV_NS, 'href', xmlEscape(r.href));
  if (found.length) out += el(DAV_NS, 'propstat', el(DAV_NS, 'prop', found.join('')) + status(200, 'OK'));
  if (missing.length) out += el(DAV_NS, 'propstat', el(DAV_NS, 'prop', missing.join('')) + status(404, 'Not Found'));
  return el(DAV_NS, 'response', out);
}

const notFoundResponse = (href: string) => el(DAV_NS, 'response', el(DAV_NS, 'href', xmlEscape(href)) + status(404, 'Not Found'));

function multistatus(res: ServerResponse, responses: string[], extra = ''): void {
  const body = `<?xml version="1.0" encoding="utf-8"?>\n<d:multistatus ${NS_DECLARATIONS}>${responses.join('')}${extra}</d:multistatus>\n`;
  res.writeHead(207, { 'content-type': 'application/xml; charset=utf-8', 'cache-control': 'no-store', dav: DAV_HEADER });
  res.end(body);
}

function davError(res: ServerResponse, status: number, condition: string, message: string, headers: Record<string, string> = {}): void {
  const body = `<?xml version="1.0" encoding="utf-8"?>\n<d:error ${NS_DECLARATIONS}>${condition}<d:responsedescription>${xmlEscape(message)}</d:responsedescription></d:error>\n`;
  res.writeHead(status, { 'content-type': 'application/xml; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(body);
}

function plain(res: ServerResponse, code: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(`${text}\n`);
}

function propRequestOf(root: XmlElement | null): PropRequest {
  if (!root) return { kind: 'all' };
  if (child(root, DAV_NS, 'propname')) return { kind: 'names' };
  if (child(root, DAV_NS, 'allprop')) return { kind: 'all' };
  const prop = child(root, DAV_NS, 'prop');
  if (!prop) throw new XmlError('expected DAV:prop, DAV:allprop or DAV:propname');
  return { kind: 'props', props: prop.children.map((c) => ({ ns: c.ns, name: c.name })) };
}

/** The ETag of an If-Match / If-None-Match header: '*', the first entity tag unquoted, or undefined. */
function etagHeader(v: string | string[] | undefined): string | undefined {
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  if (v.trim() === '*') return '*';
  const m = /^\s*(?:W\/)?"([^"]*)"/.exec(v);
  return m ? m[1] : v.trim();
}

export function cardDavRoutes(deps: CardDavDeps): HttpRoute[] {
  const auth = new BasicAuthenticator({
    index: deps.index,
    throttle: deps.throttle,
    allowPlaintextAuthOnLoopback: deps.allowPlaintextAuthOnLoopback,
    realm: 'CardDAV',
  });
  const store = deps.contacts;

  /** The user's books; the default one is created when there is none. */
  async function books(user: string): Promise<AddressBook[]> {
    const list = await store.listAddressBooks(user);
    if (list.length > 0) return list;
    try {
      await store.createAddressBook(user, DEFAULT_BOOK);
    } catch (err) {
      if (!(err instanceof ContactError && err.code === 'EXISTS')) throw err;
    }
    return store.listAddressBooks(user);
  }

  async function bookOf(user: string, id: string): Promise<AddressBook | null> {
    const b = await store.getAddressBook(user, id);
    if (b || id !== DEFAULT_BOOK.id) return b;
    return (await books(user)).find((x) => x.id === id) ?? null;
  }

  async function readXml(req: IncomingMessage, ctx: HttpRequestContext): Promise<XmlElement | null> {
    const body = await readBody(req, ctx, MAX_XML_BYTES);
    if (body.toString('utf8').trim() === '') return null;
    return parseXml(body);
  }

  async function propfind(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext, target: DavTarget): Promise<void> {
    const depthHeader = String(req.headers.depth ?? 'infinity').trim();
    if (!['0', '1', 'infinity'].includes(depthHeader)) throw new DavError(400, '', `bad Depth: ${depthHeader}`);
    const root = await readXml(req, ctx);
    if (root && !is(root, DAV_NS, 'propfind')) throw new XmlError('expected DAV:propfind');
    const want = propRequestOf(root);
    const self = await resourceOf(target, ctx);
    if (!self) return plain(res, 404, 'not found');
    const list = [self];
    const hasChildren = target.kind === 'home' || target.kind === 'book';
    if (depthHeader === 'infinity' && hasChildren) {
      throw new DavError(403, el(DAV_NS, 'propfind-finite-depth'), 'Depth: infinity is not supported; use Depth: 1');
    }
    if (depthHeader === '1' && target.kind === 'home') {
      for (const b of await books(target.user))
        list.push({ href: hrefs.book(target.user, b.id), target: { kind: 'book', user: target.user, book: b.id }, book: b });
    }
    if (depthHeader === '1' && target.kind === 'book') {
      for (const c of await store.listContacts(target.user, target.book)) {
        list.push({
          href: hrefs.card(target.user, target.book, c.name),
          target: { kind: 'card', user: target.user, book: target.book, name: c.name },
          card: c,
        });
      }
    }
    multistatus(
      res,
      list.map((r) => response(r, want)),
    );
  }

  /** The resource a target names, or null when it does not exist. */
  async function resourceOf(target: DavTarget, ctx: HttpRequestContext): Promise<Resource | null> {
    const href = ctx.url.pathname;
    switch (target.kind) {
      case 'root':
        return { href: DAV_ROOT, target };
      case 'principal':
        return { href: hrefs.principal(target.user), target };
      case 'home':
        await books(target.user);
        return { href: hrefs.home(target.user), target };
      case 'book': {
        const book = await bookOf(target.user, target.book);
        return book ? { href: hrefs.book(target.user, target.book), target, book } : null;
      }
      case 'card': {
        const c = await store.getContact(target.user, target.book, target.name);
        return c ? { href: href, target, card: c, etag: servedEtag(c, servedVersion(c, null), c.data) } : null;
      }
    }
  }

  /** A card in a REPORT answer, in the version asked for (null: its default, servedVersion). */
  function cardResource(user: string, book: string, c: StoredContact, withData: boolean, asked: VCardVersion | null = null): Resource {
    const version = servedVersion(c, asked);
    return {
      href: hrefs.card(user, book, c.name),
      target: { kind: 'card', user, book, name: c.name },
      card: c,
      etag: servedEtag(c, version, c.data),
      data: withData ? inVersion(c.data, version) : undefined,
    };
  }

  async function report(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext, target: DavTarget): Promise<void> {
    const root = await readXml(req, ctx);
    if (!root) throw new XmlError('REPORT needs a body');
    const supported = is(root, CARDDAV_NS, 'addressbook-multiget') || is(root, CARDDAV_NS, 'addressbook-query') || is(root, DAV_NS, 'sync-collection');
    if (!supported || target.kind !== 'book') {
      throw new DavError(403, el(DAV_NS, 'supported-report'), `REPORT ${root.name} is not supported on this resource`);
    }
    const book = await bookOf(target.user, target.book);
    if (!book) return plain(res, 404, 'not found');
    const want = propRequestOf(root);
    const wantsData = want.kind === 'props' && want.props.some((p) => p.ns === CARDDAV_NS && p.name === 'address-data');
    // RFC 6352 §10.4.1: <address-data content-type="text/vcard" version="3.0"/> asks for that version.
    const dataEl = child(root, DAV_NS, 'prop') ? child(child(root, DAV_NS, 'prop')!, CARDDAV_NS, 'address-data') : undefined;
    const askedVersion = dataEl?.attrs.version?.trim();
    const version = askedVersion === '3.0' || askedVersion === '4.0' ? askedVersion : null;
    const { user } = target;

    if (is(root, CARDDAV_NS, 'addressbook-multiget')) {
      const asked = childrenOf(root, DAV_NS, 'href').map((h) => h.text);
      const names = new Map<string, string>();
      const out: string[] = [];
      for (const href of asked) {
        const p = hrefPath(href, ctx.url);
        const t = p ? parseDavPath(p, user) : null;
        if (t?.kind === 'card' && t.book === book.id) names.set(t.name, href);
        else out.push(notFoundResponse(href));
      }
      const found = new Map((await store.getContacts(user, book.id, [...names.keys()])).map((c) => [c.name, c]));
      for (const [name, href] of names) {
        const c = found.get(name);
        out.push(c ? response(cardResource(user, book.id, c, wantsData, version), want) : notFoundResponse(href));
      }
      return multistatus(res, out);
    }

    if (is(root, CARDDAV_NS, 'addressbook-query')) {
      const filter = parseFilter(child(root, CARDDAV_NS, 'filter'));
      const limitText = child(root, CARDDAV_NS, 'limit') ? child(child(root, CARDDAV_NS, 'limit')!, CARDDAV_NS, 'nresults')?.text : undefined;
      const limit = limitText !== undefined && /^\d{1,9}$/.test(limitText.trim()) ? Number(limitText.trim()) : Infinity;
      const infos = await store.listContacts(user, book.id);
      const out: string[] = [];
      let truncated = false;
      for (let i = 0; i < infos.length && !truncated; i += 200) {
        const cards = await store.getContacts(
          user,
          book.id,
          infos.slice(i, i + 200).map((c) => c.name),
        );
        cards.sort((a, b) => (a.name < b.name ? -1 : 1));
        for (const c of cards) {
          let props;
          try {
            props = checkVCard(c.data).properties;
          } catch {
            continue;
          }
          if (!cardMatches(props, filter)) continue;
          if (out.length >= limit) {
            truncated = true;
            break;
          }
          out.push(response(cardResource(user, book.id, c, wantsData, version), want));
        }
      }
      // RFC 6352 §8.6.1: a truncated result says so with 507 on the request URI.
      if (truncated) out.push(el(DAV_NS, 'response', el(DAV_NS, 'href', xmlEscape(ctx.url.pathname)) + status(507, 'Insufficient Storage')));
      return multistatus(res, out);
    }

    // RFC 6578 sync-collection: changes since the token (all cards for an empty token).
    const tokenEl = child(root, DAV_NS, 'sync-token');
    const token = tokenEl?.text.trim() ?? '';
    const level = child(root, DAV_NS, 'sync-level')?.text.trim() ?? '1';
    if (level !== '1' && level !== 'infinite') throw new XmlError(`bad sync-level ${level}`);
    let changed: ContactInfo[];
    let removed: string[] = [];
    let newToken: AddressBook = book;
    if (token === '') {
      changed = await store.listContacts(user, book.id);
      // listContacts read after the book: a card put in between carries a modseq above the
      // token and comes again in the next sync, which is harmless.
    } else {
      const since = parseSyncToken(token, book);
      if (since === null)
        throw new DavError(403, el(DAV_NS, 'valid-sync-token'), 'the sync token is not valid for this address book: sync again from an empty token');
      const ch = await store.changesSince(user, book.id, since);
      if (!ch) return plain(res, 404, 'not found');
      changed = ch.changed;
      removed = ch.removed;
      newToken = { ...book, syncToken: ch.syncToken };
    }
    const out: string[] = [];
    const withData = wantsData
      ? new Map(
          (
            await store.getContacts(
              user,
              book.id,
              changed.map((c) => c.name),
            )
          ).map((c) => [c.name, c]),
        )
      : null;
    for (const c of changed) {
      const full = withData?.get(c.name);
      if (withData && !full) continue; // deleted since: the next sync reports it
      out.push(
        response(
          full
            ? cardResource(user, book.id, full, true, version)
            : {
                href: hrefs.card(user, book.id, c.name),
                target: { kind: 'card', user, book: book.id, name: c.name },
                card: c,
                etag: servedEtag(c, servedVersion(c, version)),
              },
          want,
        ),
      );
    }
    for (const name of removed) out.push(notFoundResponse(hrefs.card(user, book.id, name)));
    return multistatus(res, out, el(DAV_NS, 'sync-token', xmlEscape(syncTokenOf(newToken))));
  }

  async function get(req: IncomingMessage, res: ServerResponse, target: DavTarget): Promise<void> {
    if (target.kind !== 'card') return plain(res, 200, 'CardDAV: use a CardDAV client with this URL');
    const c = await store.getContact(target.user, target.book, target.name);
    if (!c) return plain(res, 404, 'not found');
    // The version the Accept header asks for (RFC 6352 §10.4.1), else the one the card was PUT in.
    const asked = requestedVersion(typeof req.headers.accept === 'string' ? req.headers.accept : undefined);
    const version = servedVersion(c, asked);
    const etag = servedEtag(c, version, c.data);
    const inm = etagHeader(req.headers['if-none-match']);
    if (inm === '*' || inm === etag) {
      res.writeHead(304, { etag: quoted(etag) });
      res.end();
      return;
    }
    const data = inVersion(c.data, version);
    const type = asked ? `text/vcard; charset=utf-8; version=${asked}` : VCARD_TYPE;
    res.writeHead(200, { 'content-type': type, etag: quoted(etag), 'content-length': String(data.length), 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : data);
  }

  async function put(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext, target: DavTarget): Promise<void> {
    if (target.kind !== 'card') return plain(res, 405, 'PUT is for vCard resources', { allow: 'GET, PROPFIND, REPORT, DELETE' });
    const type = String(req.headers['content-type'] ?? 'text/vcard')
      .split(';')[0]
      .trim()
      .toLowerCase();
    if (type !== 'text/vcard' && type !== 'text/x-vcard' && type !== 'text/directory') {
      throw new DavError(415, el(CARDDAV_NS, 'supported-address-data'), `content type ${type} is not a vCard (text/vcard)`);
    }
    let data: Buffer;
    try {
      data = await readBody(req, ctx, MAX_VCARD_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        throw new DavError(413, el(CARDDAV_NS, 'max-resource-size'), `a vCard may be at most ${MAX_VCARD_BYTES} octets (photos included)`);
      }
      throw err;
    }
    let uid: string | null;
    let clientVersion: VCardVersion;
    const sent = data;
    try {
      const info = checkVCard(data);
      uid = info.uid;
      clientVersion = info.version;
      // vCard 4.0 is the stored form: a 3.0 card is converted (and checked again).
      if (clientVersion === '3.0') {
        data = toVCard4(data);
        if (checkVCard(data).uid !== uid) throw new VCardError('the UID does not survive the conversion to vCard 4.0');
      }
    } catch (err) {
      if (err instanceof VCardError) throw new DavError(400, el(CARDDAV_NS, 'valid-address-data'), err.message);
      throw err;
    }
    if (!uid) throw new DavError(400, el(CARDDAV_NS, 'valid-address-data'), 'the vCard has no UID (RFC 6352 §5.1)');
    const book = await bookOf(target.user, target.book);
    if (!book) return plain(res, 409, 'no such address book');
    let ifMatch = storedEtagOf(etagHeader(req.headers['if-match']));
    if (ifMatch === '*') {
      const current = await store.getContact(target.user, target.book, target.name);
      if (!current) return plain(res, 412, 'precondition failed: the contact does not exist');
      ifMatch = current.etag;
    }
    const ifNoneMatch = etagHeader(req.headers['if-none-match']) === '*';
    try {
      const r = await store.putContact(target.user, target.book, target.name, { data, uid, clientVersion }, { ifMatch, ifNoneMatch });
      deps.events?.notify(target.user, CONTACTS_CHANGED);
      // RFC 6352 §6.3.2.3: no ETag when what is stored is not what was sent (the client GETs it).
      const headers: Record<string, string> = { 'cache-control': 'no-store' };
      if (data === sent) headers.etag = quoted(r.contact.etag);
      res.writeHead(r.created ? 201 : 204, headers);
      res.end();
    } catch (err) {
      if (!(err instanceof ContactError)) throw err;
      if (err.code === 'PRECONDITION_FAILED') return plain(res, 412, `precondition failed: ${err.message}`);
      if (err.code === 'UID_CONFLICT') {
        const other = /\((.*)\)/.exec(err.message)?.[1] ?? '';
        throw new DavError(
          409,
          el(CARDDAV_NS, 'no-uid-conflict', el(DAV_NS, 'href', xmlEscape(hrefs.card(target.user, target.book, other)))),
          'another contact in this address book has the same UID',
        );
      }
      if (err.code === 'TOO_LARGE') throw new DavError(413, el(CARDDAV_NS, 'max-resource-size'), err.message);
      if (err.code === 'NOT_FOUND') return plain(res, 409, 'no such address book');
      if (err.code === 'CONFLICT') return plain(res, 503, 'busy; try again', { 'retry-after': '1' });
      throw new DavError(400, el(CARDDAV_NS, 'valid-address-data'), err.message);
    }
  }

  async function del(req: IncomingMessage, res: ServerResponse, target: DavTarget): Promise<void> {
    if (target.kind === 'book') {
      try {
        await store.deleteAddressBook(target.user, target.book);
        deps.events?.notify(target.user, CONTACTS_CHANGED);
      } catch (err) {
        if (err instanceof ContactError && err.code === 'NOT_FOUND') return plain(res, 404, 'not found');
        throw err;
      }
      res.writeHead(204);
      res.end();
      return;
    }
    if (target.kind !== 'card') return plain(res, 405, 'method not allowed', { allow: 'GET, PROPFIND' });
    let ifMatch = storedEtagOf(etagHeader(req.headers['if-match']));
    if (ifMatch === '*') ifMatch = undefined; // any existing card: NOT_FOUND covers the rest
    try {
      await store.deleteContact(target.user, target.book, target.name, { ifMatch });
      deps.events?.notify(target.user, CONTACTS_CHANGED);
    } catch (err) {
      if (!(err instanceof ContactError)) throw err;
      if (err.code === 'NOT_FOUND') return plain(res, 404, 'not found');
      if (err.code === 'PRECONDITION_FAILED') return plain(res, 412, `precondition failed: ${err.message}`);
      if (err.code === 'CONFLICT') return plain(res, 503, 'busy; try again', { 'retry-after': '1' });
      throw err;
    }
    res.writeHead(204);
    res.end();
  }

  /**
   * MKCOL of an address book (RFC 6352 §6.3.1 with extended MKCOL, RFC 5689): the body may set
   * resourcetype (collection + CARDDAV:addressbook), displayname and addressbook-description.
   * A body-less MKCOL makes an address book too (the only collections there are here).
   */
  async function mkcol(req: IncomingMessage, res: ServerResponse, ctx: HttpRequestContext, target: DavTarget): Promise<void> {
    if (target.kind !== 'book') return plain(res, 403, 'only address books can be created, under the address-book home');
    const root = await readXml(req, ctx);
    let displayName: string = target.book;
    let description: string | null = null;
    if (root) {
      if (!is(root, DAV_NS, 'mkcol')) throw new XmlError('expected DAV:mkcol');
      const props = childrenOf(root, DAV_NS, 'set').flatMap((s) => childrenOf(s, DAV_NS, 'prop').flatMap((p) => p.children));
      for (const p of props) {
        if (is(p, DAV_NS, 'resourcetype')) {
          const types = p.children.map((c) => `${c.ns} ${c.name}`).sort();
          if (types.join('|') !== [`${CARDDAV_NS} addressbook`, `${DAV_NS} collection`].sort().join('|')) {
            throw new DavError(403, el(DAV_NS, 'valid-resourcetype'), 'only address books (DAV:collection + CARDDAV:addressbook) can be created');
          }
        } else if (is(p, DAV_NS, 'displayname')) displayName = p.text.trim().slice(0, 200) || displayName;
        else if (is(p, CARDDAV_NS, 'addressbook-description')) description = p.text.slice(0, 2000) || null;
        else throw new DavError(403, el(DAV_NS, 'valid-resourcetype'), `property ${p.name} cannot be set here`);
      }
    }
    try {
      await store.createAddressBook(target.user, { id: target.book, displayName, description });
      deps.events?.notify(target.user, CONTACTS_CHANGED);
    } catch (err) {
      if (err instanceof ContactError && err.code === 'EXISTS') return plain(res, 405, 'the address book exists', { allow: 'GET, PROPFIND, REPORT, DELETE' });
      throw err;
    }
    res.writeHead(201, { 'cache-control': 'no-store' });
    res.end();
  }

  const dav: HttpRoute = {
    path: DAV_ROOT,
    prefix: true,
    methods: METHODS,
    maxBodyBytes: MAX_VCARD_BYTES,
    optionsHeaders: { dav: DAV_HEADER },
    async handle(req, res, ctx) {
      const method = (req.method ?? 'GET').toUpperCase();
      const a = await auth.check(req, ctx.remoteAddress, ctx.secure);
      if (!a.ok) return plain(res, a.status, a.detail, a.headers);
      const target = parseDavPath(ctx.url.pathname, a.user);
      const done = (code: number) => ctx.log.debug('dav request', { method, path: ctx.url.pathname, status: code, user: a.user });
      res.once('finish', () => done(res.statusCode));
      if (!target) return plain(res, 404, 'not found');
      try {
        if (method === 'PROPFIND') return await propfind(req, res, ctx, target);
        if (method === 'REPORT') return await report(req, res, ctx, target);
        if (method === 'GET' || method === 'HEAD') return await get(req, res, target);
        if (method === 'PUT') return await put(req, res, ctx, target);
        if (method === 'DELETE') return await del(req, res, target);
        if (method === 'MKCOL') return await mkcol(req, res, ctx, target);
        return plain(res, 405, 'method not allowed', { allow: METHODS.join(', ') });
      } catch (err) {
        if (err instanceof XmlError) return davError(res, 400, '', `malformed request body: ${err.message}`);
        if (err instanceof UnsupportedFilterError) return davError(res, 403, el(CARDDAV_NS, err.precondition), err.message);
        if (err instanceof DavError) return davError(res, err.status, err.body, err.message, err.status === 413 ? { connection: 'close' } : {});
        throw err;
      }
    },
  };

  const wellKnown: HttpRoute = {
    path: '/.well-known/carddav',
    methods: ['GET', 'PROPFIND'],
    optionsHeaders: { dav: DAV_HEADER },
    async handle(req, res, ctx) {
      ctx.log.debug('dav request', { method: req.method, path: ctx.url.pathname, status: 301 });
      // RFC 6764 §5: the well-known URI redirects to the context path.
      res.writeHead(301, { location: DAV_ROOT, 'cache-control': 'no-store' });
      res.end();
    },
  };
  return [dav, wellKnown];
}
