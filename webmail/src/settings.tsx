/**
 * Settings: the vacation auto-reply (JMAP VacationResponse, RFC 8621 §8; the server answers
 * by RFC 3834's rules: once per sender a week, never to lists or robots) and the password
 * (POST /jmap/auth/password: other signed-in browsers are signed out, this one stays).
 */
import { useEffect, useState } from 'preact/hooks';
import type { JmapClient } from './jmap.ts';

interface Vacation {
  isEnabled: boolean;
  fromDate: string | null;
  toDate: string | null;
  subject: string | null;
  textBody: string | null;
}

/** `2026-12-24T00:00:00Z` ↔ the `2026-12-24` of a date input (whole days, UTC). */
const toInput = (iso: string | null) => (iso ? iso.slice(0, 10) : '');
const fromInput = (day: string, end: boolean) => (day ? `${day}T${end ? '23:59:59' : '00:00:00'}Z` : null);

export function Settings({ client, onClose }: { client: JmapClient; onClose(): void }) {
  const [vacation, setVacation] = useState<Vacation | null>(null);
  const [status, setStatus] = useState('');
  const supported = client.session.using.includes('urn:ietf:params:jmap:vacationresponse');

  useEffect(() => {
    if (!supported) return;
    void client.request('VacationResponse/get', { ids: ['singleton'] }).then((res) => setVacation((res.list as Vacation[])[0]));
  }, [client, supported]);

  const save = async (e: Event) => {
    e.preventDefault();
    if (!vacation) return;
    const res = await client.request('VacationResponse/set', { update: { singleton: vacation } });
    const failed = (res.notUpdated as Record<string, { type: string; description?: string }> | undefined)?.singleton;
    setStatus(failed ? `Not saved: ${failed.description ?? failed.type}.` : vacation.isEnabled ? 'Auto-reply is on.' : 'Auto-reply is off.');
  };

  return (
    <section class="settings" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <VacationForm supported={supported} vacation={vacation} setVacation={setVacation} status={status} save={save} onClose={onClose} />
      <PasswordForm client={client} />
    </section>
  );
}

function VacationForm({
  supported,
  vacation,
  setVacation,
  status,
  save,
  onClose,
}: {
  supported: boolean;
  vacation: Vacation | null;
  setVacation(v: Vacation): void;
  status: string;
  save(e: Event): Promise<void>;
  onClose(): void;
}) {
  return (
    <>
      {!supported ? (
        <p>This server does not offer an auto-reply.</p>
      ) : !vacation ? (
        <p class="empty">Loading…</p>
      ) : (
        <form onSubmit={save} aria-label="Auto-reply">
          <h3>Auto-reply while you are away</h3>
          <label>
            <input
              type="checkbox"
              checked={vacation.isEnabled}
              onChange={(e) => setVacation({ ...vacation, isEnabled: (e.currentTarget as HTMLInputElement).checked })}
            />{' '}
            Send an auto-reply
          </label>
          <label for="vacation-from">First day</label>
          <input
            id="vacation-from"
            type="date"
            value={toInput(vacation.fromDate)}
            onInput={(e) => setVacation({ ...vacation, fromDate: fromInput((e.currentTarget as HTMLInputElement).value, false) })}
          />
          <label for="vacation-to">Last day</label>
          <input
            id="vacation-to"
            type="date"
            value={toInput(vacation.toDate)}
            onInput={(e) => setVacation({ ...vacation, toDate: fromInput((e.currentTarget as HTMLInputElement).value, true) })}
          />
          <label for="vacation-subject">Auto-reply subject</label>
          <input
            id="vacation-subject"
            type="text"
            value={vacation.subject ?? ''}
            onInput={(e) => setVacation({ ...vacation, subject: (e.currentTarget as HTMLInputElement).value || null })}
          />
          <label for="vacation-text">Auto-reply text</label>
          <textarea
            id="vacation-text"
            rows={6}
            value={vacation.textBody ?? ''}
            onInput={(e) => setVacation({ ...vacation, textBody: (e.currentTarget as HTMLTextAreaElement).value || null })}
          />
          <p class="status" role="status">
            {status}
          </p>
          <div class="compose-actions">
            <button type="submit" class="primary">
              Save
            </button>
            <button type="button" onClick={onClose}>
              Close
            </button>
          </div>
        </form>
      )}
    </>
  );
}

const MIN_PASSWORD = 8;

function PasswordForm({ client }: { client: JmapClient }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    if ([...next].length < MIN_PASSWORD) return setStatus(`The new password needs at least ${MIN_PASSWORD} characters.`);
    if (next !== again) return setStatus('The two new passwords differ.');
    setBusy(true);
    setStatus('Changing…');
    const problem = await client.changePassword(current, next);
    setBusy(false);
    if (problem) return setStatus(`Not changed: ${problem}`);
    setCurrent('');
    setNext('');
    setAgain('');
    setStatus('Password changed. Other devices signed in to the webmail must sign in again; mail apps need the new password.');
  };
  const field = (id: string, label: string, value: string, set: (v: string) => void, autocomplete: string) => (
    <>
      <label for={id}>{label}</label>
      <input id={id} type="password" required autocomplete={autocomplete} value={value} onInput={(e) => set((e.currentTarget as HTMLInputElement).value)} />
    </>
  );
  return (
    <form onSubmit={submit} aria-label="Change password">
      <h3>Change password</h3>
      {field('password-current', 'Current password', current, setCurrent, 'current-password')}
      {field('password-new', 'New password', next, setNext, 'new-password')}
      {field('password-again', 'New password again', again, setAgain, 'new-password')}
      <p class="status" role="status">
        {status}
      </p>
      <div class="compose-actions">
        <button type="submit" class="primary" disabled={busy}>
          Change password
        </button>
      </div>
    </form>
  );
}
