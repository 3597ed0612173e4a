/**
 * One user's junk model and the score it gives a message: Gary Robinson's method as SpamBayes
 * and mox's junk filter use it.
 *
 *  - each token's spam probability from the counts of trained spam and ham messages holding it,
 *    p = (s/S) / (s/S + h/H), pulled towards 0.5 by how little it was seen:
 *    f = (STRENGTH·0.5 + n·p) / (STRENGTH + n), n = s + h (Robinson's f(w));
 *  - of the message's tokens, the MAX_DISCRIMINATORS furthest from 0.5 (and at least
 *    MIN_PROB_STRENGTH away) are combined with Fisher's chi-squared method:
 *    H = C⁻¹(−2 Σ ln f, 2n), S = C⁻¹(−2 Σ ln (1−f), 2n), score = (1 + H − S) / 2.
 *
 * An untrained model has no discriminating token: every message scores 0.5, which is below any
 * valid threshold (JUNK_THRESHOLD), so a new user's mail goes to INBOX.
 *
 * The model is bounded: past MAX_TOKENS tokens the rarest are pruned (a token seen once or
 * twice says little), and the record of trained messages keeps the last MAX_TRAINED.
 */
/** JUNK_THRESHOLD's default: the score from which MX mail goes to Junk. */
export const DEFAULT_JUNK_THRESHOLD = 0.9;
export const STRENGTH = 0.45;
export const MAX_DISCRIMINATORS = 150;
export const MIN_PROB_STRENGTH = 0.1;
export const MAX_TOKENS = 150_000;
/** After pruning, the model keeps this share of MAX_TOKENS (so it does not prune on every message). */
const PRUNE_TO = 0.8;
export const MAX_TRAINED = 20_000;

export type JunkClass = 'spam' | 'ham';

/** What is stored per user (core/junk/model-store.ts), as JSON. */
export interface JunkModel {
  version: 1;
  spam: number;
  ham: number;
  /** token → [spam messages holding it, ham messages holding it]. */
  tokens: Map<string, [number, number]>;
  /** Trained messages by key (blob key), oldest first: the class they were trained as. */
  trained: Map<string, 's' | 'h'>;
}

export function emptyModel(): JunkModel {
  return { version: 1, spam: 0, ham: 0, tokens: new Map(), trained: new Map() };
}

export interface Classification {
  /** 0 (ham) … 1 (spam); 0.5 when nothing discriminates. */
  score: number;
  /** The tokens that decided, most telling first (for X-Spam-Status), with their f(w). */
  clues: Array<[string, number]>;
}

/** Whether the model can tell anything yet: it has been trained with both classes. */
export function isTrained(model: JunkModel): boolean {
  return model.spam > 0 && model.ham > 0;
}

export function classify(model: JunkModel, tokens: Iterable<string>): Classification {
  const clues: Array<[string, number]> = [];
  if (!isTrained(model)) return { score: 0.5, clues };
  for (const t of tokens) {
    const c = model.tokens.get(t);
    if (!c) continue;
    const f = tokenProbability(model, c);
    if (Math.abs(f - 0.5) >= MIN_PROB_STRENGTH) clues.push([t, f]);
  }
  clues.sort((a, b) => Math.abs(b[1] - 0.5) - Math.abs(a[1] - 0.5));
  clues.length = Math.min(clues.length, MAX_DISCRIMINATORS);
  if (clues.length === 0) return { score: 0.5, clues };
  let sumH = 0;
  let sumS = 0;
  for (const [, f] of clues) {
    const p = Math.min(Math.max(f, 1e-6), 1 - 1e-6);
    sumH += Math.log(p);
    sumS += Math.log(1 - p);
  }
  const n = clues.length;
  const h = chi2Q(-2 * sumH, 2 * n);
  const s = chi2Q(-2 * sumS, 2 * n);
  return { score: (1 + h - s) / 2, clues };
}

function tokenProbability(model: JunkModel, [s, h]: [number, number]): number {
  const sr = s / model.spam;
  const hr = h / model.ham;
  const p = sr + hr === 0 ? 0.5 : sr / (sr + hr);
  const n = s + h;
  return (STRENGTH * 0.5 + n * p) / (STRENGTH + n);
}

/** P(chi² ≥ x2) for even degrees of freedom `v` (the series SpamBayes uses), clamped to [0, 1]. */
export function chi2Q(x2: number, v: number): number {
  const m = x2 / 2;
  let term = Math.exp(-m);
  let sum = term;
  for (let i = 1; i < v / 2; i++) {
    term *= m / i;
    sum += term;
  }
  return Math.min(sum, 1);
}

/**
 * Trains `tokens` as `cls` under `key` (the message's blob key). A message trained before as
 * the other class is untrained from it first (`previous` are its tokens: the bytes never
 * change, so they are the same); trained again as the same class, nothing changes. Returns
 * whether the model changed.
 */
export function train(model: JunkModel, key: string, cls: JunkClass, tokens: Iterable<string>): boolean {
  const mark = cls === 'spam' ? 's' : 'h';
  const before = model.trained.get(key);
  if (before === mark) return false;
  const list = [...tokens];
  if (before) adjust(model, before === 's' ? 'spam' : 'ham', list, -1);
  adjust(model, cls, list, 1);
  model.trained.delete(key);
  model.trained.set(key, mark);
  bound(model);
  return true;
}

function adjust(model: JunkModel, cls: JunkClass, tokens: string[], by: 1 | -1): void {
  const i = cls === 'spam' ? 0 : 1;
  if (cls === 'spam') model.spam = Math.max(0, model.spam + by);
  else model.ham = Math.max(0, model.ham + by);
  for (const t of tokens) {
    let c = model.tokens.get(t);
    if (!c) {
      if (by < 0) continue;
      c = [0, 0];
      model.tokens.set(t, c);
    }
    c[i] = Math.max(0, c[i] + by);
    if (c[0] === 0 && c[1] === 0) model.tokens.delete(t);
  }
}

/** Prunes the rarest tokens past MAX_TOKENS and the oldest training records past MAX_TRAINED. */
function bound(model: JunkModel): void {
  if (model.tokens.size > MAX_TOKENS) {
    const keep = Math.floor(MAX_TOKENS * PRUNE_TO);
    // Every token seen no more often than the one at rank `keep` goes.
    const totals = [...model.tokens.values()].map((c) => c[0] + c[1]).sort((a, b) => b - a);
    const cut = totals[keep];
    for (const [k, c] of model.tokens) if (c[0] + c[1] <= cut) model.tokens.delete(k);
  }
  for (const k of model.trained.keys()) {
    if (model.trained.size <= MAX_TRAINED) break;
    model.trained.delete(k);
  }
}

/** Counts for `mailctl junk stats`. */
export function modelStats(model: JunkModel): { spam: number; ham: number; tokens: number; trackedMessages: number } {
  return { spam: model.spam, ham: model.ham, tokens: model.tokens.size, trackedMessages: model.trained.size };
}

/** The stored form (JSON; its first byte `{` also keeps the local crash sweep from taking it for an orphaned message). */
export function serializeModel(model: JunkModel): string {
  return JSON.stringify({ version: 1, spam: model.spam, ham: model.ham, tokens: Object.fromEntries(model.tokens), trained: Object.fromEntries(model.trained) });
}

/** A stored model, checked; a malformed one is an error (not silently a fresh model). */
export function parseModel(json: string): JunkModel {
  const m = JSON.parse(json) as {
    version?: number;
    spam?: number;
    ham?: number;
    tokens?: Record<string, [number, number]>;
    trained?: Record<string, 's' | 'h'>;
  };
  if (
    m.version !== 1 ||
    typeof m.spam !== 'number' ||
    typeof m.ham !== 'number' ||
    typeof m.tokens !== 'object' ||
    m.tokens === null ||
    typeof m.trained !== 'object' ||
    m.trained === null
  )
    throw new Error('not a junk model (version 1)');
  const model = emptyModel();
  model.spam = m.spam;
  model.ham = m.ham;
  for (const [k, c] of Object.entries(m.tokens!)) if (Array.isArray(c) && c.length === 2) model.tokens.set(k, [Number(c[0]) || 0, Number(c[1]) || 0]);
  for (const [k, v] of Object.entries(m.trained!)) if (v === 's' || v === 'h') model.trained.set(k, v);
  return model;
}
