/**
 * THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §3), over the messages a THREAD
 * command's search matched, and the thread-list syntax of the `* THREAD` response (§4).
 * Pure: the command (commands/thread.ts) gathers each message's facts from the index.
 */
import type { BaseSubject } from '#core/mime/base-subject.ts';

export interface ThreadMessage {
  /** The number reported (UID for UID THREAD, else sequence number). */
  n: number;
  /** Sequence number: ties in date order are broken by mailbox order. */
  seq: number;
  /** Sent date as SORT DATE has it (internal date when the Date: field is unusable). */
  date: number;
  subject: BaseSubject;
  /** Message-ID without angle brackets, or null when there is none. */
  messageId: string | null;
  /** References' msg-ids in order, or else In-Reply-To's first one (§3 REFERENCES step 1). */
  references: string[];
}

/** A node of a thread tree; `message` null is a dummy (a referenced message we do not have). */
export interface ThreadNode {
  message: ThreadMessage | null;
  children: ThreadNode[];
}

interface Container extends ThreadNode {
  parent: Container | null;
  children: Container[];
}

const byDateThenSeq = (a: ThreadMessage, b: ThreadMessage) => a.date - b.date || a.seq - b.seq;

/**
 * ORDEREDSUBJECT: sorted by base subject then sent date; each run of one base subject is a
 * thread whose first message is the parent of all the others; threads ordered by the sent
 * date of their first message.
 */
export function orderedSubject(messages: ThreadMessage[]): ThreadNode[] {
  const sorted = [...messages].sort((a, b) => (a.subject.key < b.subject.key ? -1 : a.subject.key > b.subject.key ? 1 : byDateThenSeq(a, b)));
  const threads: ThreadNode[] = [];
  let current: ThreadNode | null = null;
  for (const m of sorted) {
    if (current && current.message!.subject.key === m.subject.key) current.children.push({ message: m, children: [] });
    else threads.push((current = { message: m, children: [] }));
  }
  return threads.sort((a, b) => byDateThenSeq(a.message!, b.message!));
}

/**
 * Whether `target` is `root` or below it: linking target → root would make a loop. Searched
 * downwards (RFC 5256 §3 step 1A: "search down the children of B to see if A is reachable"),
 * which is cheap where it is asked: the child of a new link is mostly a message just read or
 * a container only referenced so far, with little or nothing below it.
 */
function reaches(root: Container, target: Container): boolean {
  const stack = [root];
  while (stack.length > 0) {
    const c = stack.pop()!;
    if (c === target) return true;
    for (const k of c.children) stack.push(k);
  }
  return false;
}

function link(parent: Container, child: Container): void {
  child.parent = parent;
  parent.children.push(child);
}

function unlink(child: Container): void {
  const p = child.parent;
  if (!p) return;
  p.children.splice(p.children.indexOf(child), 1);
  child.parent = null;
}

/** A dummy's subject and date are its first child's (after sorting). */
function firstMessage(c: ThreadNode): ThreadMessage | null {
  for (let n: ThreadNode | undefined = c; n; n = n.children[0]) if (n.message) return n.message;
  return null;
}

/**
 * Every node below `roots` (roots included), each before its descendants. Iterative, like
 * everything here that walks a tree: a chain of replies is as deep as it is long.
 */
function preorder<T extends ThreadNode>(roots: T[]): T[] {
  const out: T[] = [];
  const stack = [...roots].reverse();
  while (stack.length > 0) {
    const c = stack.pop()!;
    out.push(c);
    for (let i = c.children.length - 1; i >= 0; i--) stack.push(c.children[i] as T);
  }
  return out;
}

/** Step 4 on one list of siblings whose own subtrees are already pruned. */
function pruneLevel(list: Container[], parent: Container | null): Container[] {
  const out: Container[] = [];
  for (const c of list) {
    // (4A) A dummy without children goes.
    if (c.message) out.push(c);
    else if (c.children.length === 0) continue;
    // (4B) A dummy with children goes, its children taking its place, unless that would make
    // several of them roots.
    else if (parent || c.children.length === 1) out.push(...c.children);
    else out.push(c);
  }
  for (const c of out) c.parent = parent;
  return out;
}

/** Step 4 over the whole forest, deepest levels first. */
function prune(roots: Container[]): Container[] {
  const nodes = preorder(roots);
  for (let i = nodes.length - 1; i >= 0; i--) nodes[i].children = pruneLevel(nodes[i].children, nodes[i]);
  return pruneLevel(roots, null);
}

/** Step 6: siblings by sent date (a dummy by its first child's, its children sorted first). */
function sortByDate(roots: ThreadNode[]): void {
  const dateOf = (c: ThreadNode) => firstMessage(c)!;
  const byDate = (a: ThreadNode, b: ThreadNode) => byDateThenSeq(dateOf(a), dateOf(b));
  const nodes = preorder(roots);
  for (let i = nodes.length - 1; i >= 0; i--) nodes[i].children.sort(byDate);
  roots.sort(byDate);
}

/** REFERENCES (RFC 5256 §3), steps 1 to 6. */
export function referencesThreads(messages: ThreadMessage[]): ThreadNode[] {
  const byId = new Map<string, Container>();
  const ordered = [...messages].sort((a, b) => a.seq - b.seq);
  const all: Container[] = [];
  const container = (id: string): Container => {
    let c = byId.get(id);
    if (!c) {
      c = { message: null, children: [], parent: null };
      byId.set(id, c);
      all.push(c);
    }
    return c;
  };
  for (const m of ordered) {
    // (1) A message without a Message-ID, or with one already used, is treated as unique.
    let own: Container;
    const existing = m.messageId !== null ? byId.get(m.messageId) : undefined;
    if (m.messageId !== null && (!existing || existing.message === null)) {
      own = container(m.messageId);
      own.message = m;
    } else {
      own = { message: m, children: [], parent: null };
      all.push(own);
    }
    // (1A) Link the references in order, parent to child, unless already linked or a loop.
    let prev: Container | null = null;
    for (const id of m.references) {
      const c = container(id);
      if (prev && !c.parent && !reaches(c, prev)) link(prev, c);
      prev = c;
    }
    // (1B) The message's own last reference becomes its parent, replacing any other link.
    if (prev && !reaches(own, prev)) {
      unlink(own);
      link(prev, own);
    } else if (!prev) unlink(own);
  }
  // (2) The root set; (3) the id table is no longer needed.
  const roots = prune(all.filter((c) => !c.parent));
  // (5) Threads with the same base subject come together.
  const subjectOf = (c: Container) => (c.message ?? c.children[0]?.message ?? null)?.subject ?? null;
  const table = new Map<string, Container>();
  for (const c of roots) {
    const subj = subjectOf(c);
    if (!subj || subj.key === '') continue;
    const held = table.get(subj.key);
    if (!held || (!c.message && held.message) || (held.message && subjectOf(held)!.replyOrForward && c.message && !subj.replyOrForward)) table.set(subj.key, c);
  }
  const merged = new Set<Container>();
  const result: Container[] = [];
  for (const c of roots) {
    // Already put under a merged thread's new dummy (its table entry came first).
    if (c.parent) continue;
    const subj = subjectOf(c);
    const held = subj && subj.key !== '' ? table.get(subj.key) : undefined;
    if (!held || held === c) {
      result.push(c);
      continue;
    }
    merged.add(c);
    if (!held.message && !c.message) {
      for (const child of c.children) link(held, child);
      c.children = [];
    } else if (!held.message) link(held, c);
    else if (c.message && !subjectOf(held)!.replyOrForward && subj!.replyOrForward) link(held, c);
    else {
      const dummy: Container = { message: null, children: [], parent: null };
      link(dummy, held);
      link(dummy, c);
      merged.add(held);
      table.set(subj!.key, dummy);
      result.push(dummy);
    }
  }
  const finalRoots = result.filter((c) => !merged.has(c) && !c.parent);
  sortByDate(finalRoots);
  return finalRoots;
}

/** thread-list syntax (RFC 5256 §4): `(a b (c d)(e))`, a dummy root as `((a)(b))`. */
export function formatThreads(roots: ThreadNode[]): string {
  const out: string[] = [];
  // Work in reverse order of output: text to write, or a node to expand.
  const stack: Array<string | ThreadNode> = [];
  for (let i = roots.length - 1; i >= 0; i--) stack.push(')', roots[i], '(');
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item === 'string') {
      out.push(item);
      continue;
    }
    const { message, children } = item;
    if (message) out.push(String(message.n));
    if (children.length === 0) continue;
    if (message) out.push(' ');
    if (children.length === 1 && message) stack.push(children[0]);
    else for (let i = children.length - 1; i >= 0; i--) stack.push(')', children[i], '(');
  }
  return out.join('');
}
