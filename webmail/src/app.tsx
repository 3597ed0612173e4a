/** Signed out: the sign-in form. Signed in: the mail view, with its client in memory only. */
import { useState } from 'preact/hooks';
import { JmapClient, SignInError } from './jmap.ts';
import { MailView } from './mail-view.tsx';

export function App() {
  const [client, setClient] = useState<JmapClient | null>(null);
  if (!client) return <SignIn onSignedIn={setClient} />;
  return (
    <MailView
      client={client}
      onSignOut={() => {
        setClient(null);
        void client.signOut();
      }}
    />
  );
}

function SignIn({ onSignedIn }: { onSignedIn(client: JmapClient): void }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    setBusy(true);
    setError('');
    try {
      onSignedIn(await JmapClient.signIn(String(data.get('email')).trim(), String(data.get('password'))));
    } catch (err) {
      setError(err instanceof SignInError ? err.message : 'Sign-in failed. Try again.');
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to your mail</h1>
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="username" required autofocus />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
