/**
 * Base subject extraction (RFC 5256 §2.1), the subject that SORT SUBJECT compares and that
 * THREAD groups by: "Re:", "Fwd:", "[list]" blobs, "(fwd)" trailers and "[fwd: …]" wrappers
 * taken off, white space folded. `replyOrForward` tells whether anything marking a reply or a
 * forward was removed (a subj-refwd, a "(fwd)" trailer or a "[fwd: …]" wrapper), which
 * THREAD=REFERENCES step 5 needs.
 */
import libmime from 'libmime';

export interface BaseSubject {
  /** The base subject, upper-cased for the i;ascii-casemap comparison the RFC prescribes. */
  key: string;
  replyOrForward: boolean;
}

// subj-blob = "[" *BLOBCHAR "]" *WSP, BLOBCHAR = any CHAR but "[" and "]".
const BLOB = String.raw`\[[^\[\]]*\][ \t]*`;
// subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"; subj-leader = (*subj-blob subj-refwd) / WSP.
const REFWD_LEADER = new RegExp(String.raw`^(?:${BLOB})*(?:re|fwd?)[ \t]*(?:${BLOB})?:`, 'i');
const LEADING_BLOB = new RegExp(`^${BLOB}`);
// subj-trailer = "(fwd)" / WSP.
const TRAILER = /(?:\(fwd\)|[ \t])$/i;

function decode(value: string): string {
  if (!value.includes('=?')) return value;
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

export function baseSubject(subject: string | null): BaseSubject {
  // (1) Decode to Unicode; every run of white space (tabs, folds) becomes one space.
  let s = decode(subject ?? '').replace(/[ \t\r\n]+/g, ' ');
  let replyOrForward = false;
  for (;;) {
    // (2) Trailing "(fwd)" and white space.
    for (let m = TRAILER.exec(s); m; m = TRAILER.exec(s)) {
      if (m[0] !== ' ' && m[0] !== '\t') replyOrForward = true;
      s = s.slice(0, -m[0].length);
    }
    // (3)-(5) Leading "re:"/"fwd:" (with blobs) and white space, then a leading blob when
    // something is left after it, until neither applies.
    for (let changed = true; changed;) {
      changed = false;
      for (;;) {
        if (s.startsWith(' ') || s.startsWith('\t')) s = s.slice(1);
        else {
          const m = REFWD_LEADER.exec(s);
          if (!m) break;
          replyOrForward = true;
          s = s.slice(m[0].length);
        }
        changed = true;
      }
      const blob = LEADING_BLOB.exec(s);
      if (blob && blob[0].length < s.length) {
        s = s.slice(blob[0].length);
        changed = true;
      }
    }
    // (6) A "[fwd: …]" wrapper: take it off and start again at (2).
    if (s.length >= 6 && s.slice(0, 5).toLowerCase() === '[fwd:' && s.endsWith(']')) {
      s = s.slice(5, -1);
      replyOrForward = true;
      continue;
    }
    break;
  }
  return { key: s.replace(/[a-z]+/g, (w) => w.toUpperCase()), replyOrForward };
}
