/**
 * The URL layout of CardDAV (RFC 6352 §7, RFC 6764 §6):
 *
 *   /.well-known/carddav                          → redirect to /dav/ (the context path)
 *   /dav/                                         the context path: current-user-principal
 *   /dav/principals/<user>/                       the user's principal (addressbook-home-set)
 *   /dav/addressbooks/<user>/                     the address-book home: one collection per book
 *   /dav/addressbooks/<user>/<book>/              an address book (CARDDAV:addressbook)
 *   /dav/addressbooks/<user>/<book>/<name>        a vCard
 *
 * `<user>` is the address ('@' unescaped). Paths are read after the URL parser has removed dot
 * segments (also percent-encoded ones), so `..` cannot climb out of a collection; a segment is
 * then percent-decoded and must match the store's patterns (no '/', no dot segments), and the
 * user must be the authenticated one, else the request is answered as for a path that does not
 * exist — nothing tells another user's books apart from no books.
 */
import { ADDRESS_BOOK_ID, CONTACT_NAME } from '#core/ports/contacts.ts';

export const DAV_ROOT = '/dav/';

export type DavTarget =
  | { kind: 'root'; user: string }
  | { kind: 'principal'; user: string }
  | { kind: 'home'; user: string }
  | { kind: 'book'; user: string; book: string }
  | { kind: 'card'; user: string; book: string; name: string };

const seg = (s: string) => encodeURIComponent(s).replace(/%40/g, '@');

export const hrefs = {
  root: () => DAV_ROOT,
  principal: (user: string) => `/dav/principals/${seg(user)}/`,
  home: (user: string) => `/dav/addressbooks/${seg(user)}/`,
  book: (user: string, book: string) => `/dav/addressbooks/${seg(user)}/${seg(book)}/`,
  card: (user: string, book: string, name: string) => `/dav/addressbooks/${seg(user)}/${seg(book)}/${seg(name)}`,
};

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/**
 * What a path names, or null when it names nothing we serve (including another user's
 * resources: `user` is the authenticated user, and a path under any other name is null).
 */
export function parseDavPath(pathname: string, user: string): DavTarget | null {
  if (pathname === DAV_ROOT || pathname === '/dav') return { kind: 'root', user };
  if (!pathname.startsWith(DAV_ROOT)) return null;
  const trailing = pathname.endsWith('/');
  const parts = pathname.slice(DAV_ROOT.length).split('/');
  if (trailing) parts.pop();
  const decoded = parts.map(decode);
  if (decoded.some((p) => p === null || p === '' || p.includes('/') || p.includes('\u0000'))) return null;
  const [area, who, book, name, ...rest] = decoded as string[];
  if (rest.length > 0 || who === undefined || who.toLowerCase() !== user) return null;
  if (area === 'principals') return book === undefined ? { kind: 'principal', user } : null;
  if (area !== 'addressbooks') return null;
  if (book === undefined) return { kind: 'home', user };
  if (!ADDRESS_BOOK_ID.test(book)) return null;
  if (name === undefined) return { kind: 'book', user, book };
  if (trailing || !CONTACT_NAME.test(name)) return null;
  return { kind: 'card', user, book, name };
}

/** The path of an href (absolute URL or absolute path, RFC 4918 §8.3), resolved against the request URL. */
export function hrefPath(href: string, base: URL): string | null {
  try {
    const u = new URL(href.trim(), base);
    if (u.host !== base.host) return null;
    return u.pathname;
  } catch {
    return null;
  }
}
