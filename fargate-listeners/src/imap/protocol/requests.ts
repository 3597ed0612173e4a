/**
 * Typed requests: what each command parser (parser/*.ts) produces and each session command
 * (session/commands/*.ts) consumes. Mailbox names stay raw bytes here; the session decodes
 * them (modified UTF-7 or UTF-8 depending on what the client ENABLEd).
 */
import type { SequenceSet } from './sequence-set.ts';

export type SimpleCommand =
  'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'CHECK' | 'CLOSE' | 'UNSELECT' | 'EXPUNGE' | 'IDLE' | 'NAMESPACE' | 'UNAUTHENTICATE';

export interface SimpleRequest {
  name: SimpleCommand;
}
export interface LoginRequest {
  name: 'LOGIN';
  user: string;
  password: string;
}
export interface AuthenticateRequest {
  name: 'AUTHENTICATE';
  mechanism: string;
  initialResponse: string | null;
}
export interface EnableRequest {
  name: 'ENABLE';
  capabilities: string[];
}
/** COMPRESS (RFC 4978 §3): the mechanism, upper-case. */
export interface CompressRequest {
  name: 'COMPRESS';
  mechanism: string;
}
/** GETQUOTAROOT, GETQUOTA, SETQUOTA (RFC 9208 §4.1). */
export type QuotaRequest =
  { name: 'GETQUOTAROOT'; mailbox: Buffer } | { name: 'GETQUOTA'; root: string } | { name: 'SETQUOTA'; root: string; limits: Array<[string, number]> };
export interface IdRequest {
  name: 'ID';
  params: Array<[string, string | null]> | null;
}
/** The QRESYNC select parameter (RFC 7162 §3.2.5): what the client's cache knows. */
export interface QresyncParams {
  uidValidity: number;
  modseq: number;
  /** UIDs the client knows (no `*`); null: all. */
  knownUids: SequenceSet | null;
  /** Message sequence match data (§3.2.5.2): sequence numbers and the UIDs they had. */
  seqMatch: { seqs: SequenceSet; uids: SequenceSet } | null;
}

export interface SelectRequest {
  name: 'SELECT' | 'EXAMINE';
  mailbox: Buffer;
  /** The CONDSTORE parameter (RFC 7162 §3.1.8). */
  condstore: boolean;
  qresync: QresyncParams | null;
}
export interface CreateRequest {
  name: 'CREATE';
  mailbox: Buffer;
  specialUse: string[];
}
export interface MailboxRequest {
  name: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE';
  mailbox: Buffer;
}
export interface RenameRequest {
  name: 'RENAME';
  from: Buffer;
  to: Buffer;
}

export interface ListRequest {
  name: 'LIST' | 'LSUB';
  /** LIST-EXTENDED selection options (RFC 5258 §3.1), upper-case. */
  selection: string[];
  reference: Buffer;
  patterns: Buffer[];
  /** RETURN options (RFC 5258 §3.2, RFC 5819 STATUS); null when none given. */
  returnOptions: { subscribed: boolean; children: boolean; specialUse: boolean; status: StatusItem[] | null } | null;
}

export type StatusItem = 'MESSAGES' | 'RECENT' | 'UIDNEXT' | 'UIDVALIDITY' | 'UNSEEN' | 'SIZE' | 'DELETED' | 'HIGHESTMODSEQ' | 'MAILBOXID' | 'DELETED-STORAGE';
export interface StatusRequest {
  name: 'STATUS';
  mailbox: Buffer;
  items: StatusItem[];
}

/** A part of a CATENATE message (RFC 4469 §5 `cat-part`): a TEXT literal or a URL to a part of a message. */
export type CatPart = { kind: 'text'; bytes: Buffer; binary: boolean; utf8: boolean } | { kind: 'url'; url: string };

/** One message of an APPEND: its flags, date-time and bytes. */
export interface AppendMessage {
  flags: string[];
  /** Epoch ms from the date-time argument, or null. */
  date: number | null;
  /** The message literal; empty when `catenate` gives the parts instead. */
  message: Buffer;
  /** CATENATE (RFC 4469 §3): the parts the message is made of, in order; null for a literal. */
  catenate: CatPart[] | null;
  /** Sent as literal8 (`~{n}`, RFC 3516): NUL bytes allowed. */
  binary: boolean;
  /** The `UTF8 (…)` form (RFC 6855 §4). */
  utf8: boolean;
}

export interface AppendRequest {
  name: 'APPEND';
  mailbox: Buffer;
  flags: string[];
  /** Epoch ms from the date-time argument, or null. */
  date: number | null;
  message: Buffer;
  /** CATENATE (RFC 4469 §3) parts of the first message; null for a literal. */
  catenate: CatPart[] | null;
  /** Sent as literal8 (`~{n}`, RFC 3516): NUL bytes allowed. */
  binary: boolean;
  /** The `UTF8 (…)` form (RFC 6855 §4). */
  utf8: boolean;
  /** MULTIAPPEND (RFC 3502 §6.3.11): the messages after the first, in order; empty for one. */
  more: AppendMessage[];
}

export interface UidExpungeRequest {
  name: 'UID EXPUNGE';
  set: SequenceSet;
}

// --- SEARCH ---
export type DateOp = 'before' | 'on' | 'since';

export type SearchKey =
  | { k: 'all' }
  | { k: 'flag'; flag: string; present: boolean }
  | { k: 'new' }
  | { k: 'old' }
  | { k: 'recent' }
  /** SUBJECT/HEADER: substring of the decoded field (empty value: field present). */
  | { k: 'header'; field: string; value: Buffer }
  /** FROM/TO/CC/BCC: substring of an address of the envelope's list (RFC 9051 §6.4.4). */
  | { k: 'address'; field: 'from' | 'to' | 'cc' | 'bcc'; value: Buffer }
  | { k: 'body'; value: Buffer }
  | { k: 'text'; value: Buffer }
  /** Day as yyyymmdd. */
  | { k: 'date'; field: 'internal' | 'sent'; op: DateOp; day: number }
  | { k: 'size'; op: 'larger' | 'smaller'; n: number }
  | { k: 'uid'; set: SequenceSet }
  | { k: 'seq'; set: SequenceSet }
  /** MODSEQ (RFC 7162 §3.1.5): the message's mod-sequence is at least `modseq`. */
  | { k: 'modseq'; modseq: number }
  /** OLDER / YOUNGER (RFC 5032 §3): the internal date is more / at most `seconds` before now. */
  | { k: 'within'; op: 'older' | 'younger'; seconds: number }
  /** EMAILID / THREADID (RFC 8474 §6): the message's object id is this one. */
  | { k: 'objectid'; field: 'email' | 'thread'; id: string }
  /** SAVEDBEFORE / SAVEDON / SAVEDSINCE (RFC 8514 §4.3): the save date's day (yyyymmdd). */
  | { k: 'savedate'; op: DateOp; day: number }
  /** SAVEDATESUPPORTED (RFC 8514 §4.3): every message of a mailbox that keeps save dates. */
  | { k: 'savedatesupported' }
  | { k: 'not'; key: SearchKey }
  | { k: 'or'; a: SearchKey; b: SearchKey }
  | { k: 'and'; keys: SearchKey[] };

/**
 * RETURN options: ESEARCH (RFC 4731), SAVE (RFC 5182), CONTEXT and UPDATE (RFC 5267 §4.2, §4.3),
 * PARTIAL (RFC 9394 §3.1; its range is the request's `partial`).
 */
export type SearchReturn = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE' | 'CONTEXT' | 'UPDATE' | 'PARTIAL';

/**
 * partial-range (RFC 9394 §4): positions `low`..`high` (1-based, low ≤ high) counted from the
 * first result, or from the last one when `fromEnd` (-1 is the last). `text` is the range as the
 * client wrote it, which the PARTIAL response repeats.
 */
export interface PartialRange {
  low: number;
  high: number;
  fromEnd: boolean;
  text: string;
}

export interface SearchRequest {
  name: 'SEARCH';
  uid: boolean;
  charset: string | null;
  /** ESEARCH RETURN options (RFC 4731, RFC 9051 §6.4.4); null when the form is plain SEARCH. */
  returnOptions: SearchReturn[] | null;
  /** The range of RETURN (PARTIAL …) (RFC 9394 §3.1). */
  partial?: PartialRange;
  criteria: SearchKey;
}

// --- SORT / THREAD (RFC 5256, RFC 5957, RFC 5267) ---
export type SortKeyName = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';

export interface SortCriterion {
  key: SortKeyName;
  reverse: boolean;
}

/** ESORT RETURN options (RFC 5267 §3, §4; SAVE per RFC 5182; PARTIAL per RFC 9394). */
export type SortReturn = SearchReturn;

export interface SortRequest {
  name: 'SORT';
  uid: boolean;
  /** null: the plain `* SORT` form; else an ESORT (`* ESEARCH`) answer. */
  returnOptions: SortReturn[] | null;
  /** The range of RETURN (PARTIAL …) (RFC 9394 §3.1), in sort order. */
  partial?: PartialRange;
  criteria: SortCriterion[];
  charset: string;
  search: SearchKey;
}

/** CANCELUPDATE 1*(SP quoted) (RFC 5267 §4.3.5): the tags of the contexts to end. */
export interface CancelUpdateRequest {
  name: 'CANCELUPDATE';
  tags: string[];
}

export type ThreadAlgorithm = 'ORDEREDSUBJECT' | 'REFERENCES';

export interface ThreadRequest {
  name: 'THREAD';
  uid: boolean;
  algorithm: ThreadAlgorithm;
  charset: string;
  search: SearchKey;
}

// --- FETCH ---
export interface Section {
  /** Part path, e.g. [1, 2] for "1.2"; empty for the whole message. */
  part: number[];
  text: 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME' | null;
  fields: string[];
}

export interface Partial {
  start: number;
  length: number;
}

export type FetchAtt =
  | { k: 'UID' }
  | { k: 'FLAGS' }
  | { k: 'INTERNALDATE' }
  | { k: 'RFC822.SIZE' }
  | { k: 'ENVELOPE' }
  | { k: 'BODYSTRUCTURE' }
  /** BODY without a section: the non-extensible structure. */
  | { k: 'BODY' }
  | { k: 'RFC822' }
  | { k: 'RFC822.HEADER' }
  | { k: 'RFC822.TEXT' }
  /** BODY[section]<partial> / BODY.PEEK[…]; `label` is the section as echoed in the response. */
  | { k: 'BODY[]'; peek: boolean; section: Section; partial: Partial | null; label: string }
  | { k: 'BINARY'; peek: boolean; part: number[]; partial: Partial | null }
  | { k: 'BINARY.SIZE'; part: number[] }
  /** MODSEQ (RFC 7162 §3.1.4.2). */
  | { k: 'MODSEQ' }
  /** EMAILID and THREADID (RFC 8474 §5.1, §5.2). */
  | { k: 'EMAILID' }
  | { k: 'THREADID' }
  /** PREVIEW (RFC 8970 §3.1); `lazy`: NIL is allowed when the preview is not at hand. */
  | { k: 'PREVIEW'; lazy: boolean }
  /** SAVEDATE (RFC 8514 §4.2). */
  | { k: 'SAVEDATE' };

export interface FetchRequest {
  name: 'FETCH';
  uid: boolean;
  set: SequenceSet;
  items: FetchAtt[];
  /** CHANGEDSINCE modifier (RFC 7162 §3.1.4.1); null when absent. */
  changedSince: number | null;
  /** VANISHED modifier of UID FETCH (RFC 7162 §3.2.6). */
  vanished: boolean;
  /** PARTIAL modifier of UID FETCH (RFC 9394 §3.3): only these positions of the set. */
  partial?: PartialRange;
}

export interface StoreRequest {
  name: 'STORE';
  uid: boolean;
  set: SequenceSet;
  mode: 'add' | 'remove' | 'set';
  silent: boolean;
  flags: string[];
  /** UNCHANGEDSINCE modifier (RFC 7162 §3.1.3); null when absent. */
  unchangedSince: number | null;
}

export interface CopyRequest {
  name: 'COPY' | 'MOVE';
  uid: boolean;
  set: SequenceSet;
  mailbox: Buffer;
}

export type ImapRequest =
  | SimpleRequest
  | LoginRequest
  | AuthenticateRequest
  | EnableRequest
  | IdRequest
  | CompressRequest
  | QuotaRequest
  | SelectRequest
  | CreateRequest
  | MailboxRequest
  | RenameRequest
  | ListRequest
  | StatusRequest
  | AppendRequest
  | UidExpungeRequest
  | SearchRequest
  | SortRequest
  | CancelUpdateRequest
  | ThreadRequest
  | FetchRequest
  | StoreRequest
  | CopyRequest;

export type ParsedCommand = { tag: string; request: ImapRequest };
