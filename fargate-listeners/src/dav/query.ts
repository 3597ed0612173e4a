/**
 * The CARDDAV:filter of addressbook-query (RFC 6352 §10.5): prop-filters on vCard property
 * names, each with is-not-defined, text-match and param-filter, combined by `test` (anyof,
 * the default, or allof). Collations (§8.3): i;unicode-casemap (default), i;ascii-casemap,
 * i;octet; another is a precondition failure (CARDDAV:supported-collation).
 */
import { unescapeText, type VCardProperty } from '#core/contacts/vcard.ts';
import { CARDDAV_NS, XmlError, child, childrenOf, type XmlElement } from './xml.ts';

export class UnsupportedFilterError extends Error {
  /** The precondition element of CARDDAV (RFC 6352 §10.5 / §8.3). */
  readonly precondition: 'supported-collation' | 'supported-filter';
  constructor(precondition: UnsupportedFilterError['precondition'], message: string) {
    super(message);
    this.precondition = precondition;
  }
}

type Test = 'anyof' | 'allof';
interface TextMatch {
  value: string;
  collation: 'i;unicode-casemap' | 'i;ascii-casemap' | 'i;octet';
  matchType: 'equals' | 'contains' | 'starts-with' | 'ends-with';
  negate: boolean;
}
interface ParamFilter {
  name: string;
  isNotDefined: boolean;
  textMatch: TextMatch | null;
}
interface PropFilter {
  name: string;
  test: Test;
  isNotDefined: boolean;
  textMatches: TextMatch[];
  paramFilters: ParamFilter[];
}
export interface CardFilter {
  test: Test;
  props: PropFilter[];
}

function testOf(el: XmlElement): Test {
  const t = el.attrs.test ?? 'anyof';
  if (t !== 'anyof' && t !== 'allof') throw new XmlError(`bad test="${t}"`);
  return t;
}

function textMatchOf(el: XmlElement): TextMatch {
  const collation = el.attrs.collation ?? 'i;unicode-casemap';
  if (collation !== 'i;unicode-casemap' && collation !== 'i;ascii-casemap' && collation !== 'i;octet') {
    throw new UnsupportedFilterError('supported-collation', `collation ${collation} is not supported`);
  }
  const matchType = el.attrs['match-type'] ?? 'contains';
  if (matchType !== 'equals' && matchType !== 'contains' && matchType !== 'starts-with' && matchType !== 'ends-with') {
    throw new XmlError(`bad match-type="${matchType}"`);
  }
  return { value: el.text, collation, matchType, negate: el.attrs['negate-condition'] === 'yes' };
}

function nameOf(el: XmlElement): string {
  const n = el.attrs.name;
  if (!n || !/^[A-Za-z0-9-]{1,64}$/.test(n)) throw new XmlError(`${el.name} needs a name`);
  return n.toUpperCase();
}

/** Reads <CARDDAV:filter>; a missing filter matches every card. */
export function parseFilter(el: XmlElement | undefined): CardFilter {
  if (!el) return { test: 'anyof', props: [] };
  const props = childrenOf(el, CARDDAV_NS, 'prop-filter').map((pf) => ({
    name: nameOf(pf),
    test: testOf(pf),
    isNotDefined: child(pf, CARDDAV_NS, 'is-not-defined') !== undefined,
    textMatches: childrenOf(pf, CARDDAV_NS, 'text-match').map(textMatchOf),
    paramFilters: childrenOf(pf, CARDDAV_NS, 'param-filter').map((p) => {
      const tm = child(p, CARDDAV_NS, 'text-match');
      return { name: nameOf(p), isNotDefined: child(p, CARDDAV_NS, 'is-not-defined') !== undefined, textMatch: tm ? textMatchOf(tm) : null };
    }),
  }));
  return { test: testOf(el), props };
}

function fold(s: string, c: TextMatch['collation']): string {
  if (c === 'i;octet') return s;
  if (c === 'i;ascii-casemap') return s.replace(/[a-z]/g, (x) => x.toUpperCase());
  return s.normalize('NFKD').toLowerCase();
}

function textMatches(value: string, tm: TextMatch): boolean {
  const v = fold(value, tm.collation);
  const w = fold(tm.value, tm.collation);
  const hit =
    tm.matchType === 'equals' ? v === w : tm.matchType === 'starts-with' ? v.startsWith(w) : tm.matchType === 'ends-with' ? v.endsWith(w) : v.includes(w);
  return tm.negate ? !hit : hit;
}

function combine<T>(items: T[], test: Test, f: (x: T) => boolean): boolean {
  return test === 'allof' ? items.every(f) : items.some(f);
}

function propMatches(props: VCardProperty[], pf: PropFilter): boolean {
  const named = props.filter((p) => p.name === pf.name);
  if (pf.isNotDefined) return named.length === 0;
  if (named.length === 0) return false;
  const tests: Array<() => boolean> = [
    ...pf.textMatches.map((tm) => () => named.some((p) => textMatches(unescapeText(p.value), tm))),
    ...pf.paramFilters.map(
      (pa) => () =>
        named.some((p) => {
          const value = p.params[pa.name];
          if (pa.isNotDefined) return value === undefined;
          if (value === undefined) return false;
          return pa.textMatch ? textMatches(value, pa.textMatch) : true;
        }),
    ),
  ];
  // A prop-filter with nothing inside matches a card that has the property (§10.5.1).
  if (tests.length === 0) return true;
  return combine(tests, pf.test, (t) => t());
}

export function cardMatches(props: VCardProperty[], filter: CardFilter): boolean {
  if (filter.props.length === 0) return true;
  return combine(filter.props, filter.test, (pf) => propMatches(props, pf));
}
