/** Mailbox icons, drawn inline (no icon font, no emoji font needed on the reader's machine). */
const PATHS: Record<string, string> = {
  inbox: 'M3 13h5l2 3h4l2-3h5M3 13l3-8h12l3 8v6H3z',
  drafts: 'M4 20h4L19 9l-4-4L4 16zM13 7l4 4',
  sent: 'M3 11l18-8-8 18-2-8z M11 13l10-10',
  archive: 'M3 4h18v4H3zM5 8v12h14V8M10 12h4',
  junk: 'M12 3l10 18H2zM12 10v5M12 18v.5',
  trash: 'M4 6h16M9 6V4h6v2M6 6l1 14h10l1-14',
  folder: 'M3 6h6l2 2h10v11H3z',
};

export function MailboxIcon({ role }: { role: string | null }) {
  const d = PATHS[role ?? ''] ?? PATHS.folder;
  return (
    <svg
      class="icon"
      viewBox="0 0 24 24"
      width="16"
      height="16"
      aria-hidden="true"
      fill="none"
      stroke="currentColor"
      stroke-width="1.8"
      stroke-linejoin="round"
      stroke-linecap="round"
    >
      <path d={d} />
    </svg>
  );
}
