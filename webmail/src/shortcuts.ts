/**
 * Single-key shortcuts. `handle` gets each plain key press (none while typing in a field or with
 * Ctrl/Cmd/Alt) and returns true when it used the key. It is taken anew at every render, so a
 * key acts on what the last render showed: registering the handler in an effect instead would
 * leave a gap after each render in which a key acts on the previous state.
 */
import { useEffect, useRef } from 'preact/hooks';

export function useShortcuts(handle: (key: string) => boolean): void {
  const current = useRef(handle);
  current.current = handle;
  useEffect(() => {
    const listener = (e: KeyboardEvent) => {
      if ((e.target as HTMLElement).closest('input, textarea, select, [contenteditable]') || e.ctrlKey || e.metaKey || e.altKey) return;
      if (current.current(e.key)) e.preventDefault();
    };
    window.addEventListener('keydown', listener);
    return () => window.removeEventListener('keydown', listener);
  }, []);
}
