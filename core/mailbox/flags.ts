/**
 * Flag-set semantics shared by both mail index adapters: flags and keywords compare
 * case-insensitively (RFC 3501 §2.3.2 / RFC 9051 §2.3.2); the first spelling is kept.
 */
import type { FlagUpdateMode } from '../ports/mail-index.ts';

/**
 * Flags as given, without case-insensitive duplicates (first spelling wins); nothing is
 * checked or re-cased. (IMAP's canonicalClientFlags, fargate-listeners/src/imap/session/flags.ts,
 * is the stricter one that vets a client's STORE/APPEND flags before they reach the index.)
 */
export function normalizeFlags(flags: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of flags) {
    const k = f.toLowerCase();
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(f);
  }
  return out;
}

export function sameFlagSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => set.has(f.toLowerCase()));
}

/** The flags after a STORE-like update (`flags` already normalized). */
export function applyFlags(current: string[], mode: FlagUpdateMode, flags: string[]): string[] {
  if (mode === 'set') return flags;
  if (mode === 'add') return normalizeFlags([...current, ...flags]);
  const drop = new Set(flags.map((f) => f.toLowerCase()));
  return current.filter((f) => !drop.has(f.toLowerCase()));
}
