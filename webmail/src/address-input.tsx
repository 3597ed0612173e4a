/**
 * An address field (To, Cc, Bcc) that suggests people as one types: an ARIA 1.2 combobox whose
 * listbox offers the suggestions matching the address being typed (the text after the last
 * comma or semicolon), from two letters on. Arrow keys move, Enter or Tab takes one, Escape
 * closes; a click takes one too. Taking a suggestion replaces only the address being typed, so
 * a field keeps the addresses before it.
 */
import { useState } from 'preact/hooks';

const MAX_SHOWN = 8;
const MIN_TYPED = 2;

/** Where the address being typed starts: after the last `,` or `;` outside quotes and `<…>`. */
export function lastTokenStart(field: string): number {
  let start = 0;
  let quoted = false;
  let angle = false;
  for (let i = 0; i < field.length; i++) {
    const ch = field[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === '<' && !quoted) angle = true;
    else if (ch === '>' && !quoted) angle = false;
    else if ((ch === ',' || ch === ';') && !quoted && !angle) start = i + 1;
  }
  return start;
}

/** True when a word of the suggestion (a name part, the address, its domain) starts with what is typed. */
export function suggestionMatches(suggestion: string, typed: string): boolean {
  const t = typed.trim().toLowerCase();
  if (!t) return false;
  return suggestion
    .toLowerCase()
    .split(/[\s<>"@(),]+/)
    .concat(/<([^<>]+)>/.exec(suggestion.toLowerCase())?.[1] ?? suggestion.toLowerCase())
    .some((word) => word.startsWith(t));
}

export function AddressInput({ id, value, onInput, suggestions }: { id: string; value: string; onInput(v: string): void; suggestions: string[] }) {
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const start = lastTokenStart(value);
  const typed = value.slice(start);
  const matches = open && typed.trim().length >= MIN_TYPED ? suggestions.filter((s) => suggestionMatches(s, typed)).slice(0, MAX_SHOWN) : [];
  const listId = `${id}-suggestions`;
  const current = Math.min(active, matches.length - 1);

  const take = (s: string) => {
    const before = value.slice(0, start);
    onInput(`${before}${before && !/\s$/.test(before) ? ' ' : ''}${s}, `);
    setOpen(false);
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (matches.length === 0) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      setActive((current + (e.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length);
    } else if (e.key === 'Enter' || e.key === 'Tab') {
      e.preventDefault();
      take(matches[current]);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      setOpen(false);
    }
  };

  return (
    <div class="address-input">
      <input
        id={id}
        type="text"
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={matches.length > 0}
        aria-controls={listId}
        aria-activedescendant={matches.length > 0 ? `${listId}-${current}` : undefined}
        autocomplete="off"
        value={value}
        onInput={(e) => {
          onInput((e.currentTarget as HTMLInputElement).value);
          setOpen(true);
          setActive(0);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => setOpen(false)}
      />
      {matches.length > 0 && (
        <ul id={listId} role="listbox" aria-label="Suggestions">
          {matches.map((s, i) => (
            <li
              key={s}
              id={`${listId}-${i}`}
              role="option"
              aria-selected={i === current}
              // mousedown, not click: the input's blur would close the list first.
              onMouseDown={(e) => {
                e.preventDefault();
                take(s);
              }}
            >
              {s}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
