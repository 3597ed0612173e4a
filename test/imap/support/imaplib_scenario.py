"""Python's imaplib (a client we did not write) through a full IMAP session.

Usage: imaplib_scenario.py HOST PORT USER PASSWORD
Prints one JSON object with what the server answered; the test asserts on it.
"""
import email
import imaplib
import json
import sys
import threading
import time

host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
out = {}


def ok(res):
    typ, data = res
    if typ != 'OK':
        raise SystemExit(f'not OK: {typ} {data}')
    return data


M = imaplib.IMAP4(host, port)
out['capabilities'] = sorted(M.capabilities)
ok(M.login(user, password))
out['list'] = [l.decode() for l in ok(M.list('""', '*'))]

msgs = []
for i in range(1, 4):
    raw = (f'From: Sender {i} <s{i}@example.test>\r\nTo: {user}\r\nSubject: Message number {i}\r\n'
           f'Date: Mon, 7 Feb 1994 21:52:2{i} -0800\r\nMessage-ID: <m{i}@example.test>\r\n\r\nBody of message {i}.\r\n').encode()
    msgs.append(raw)
    data = ok(M.append('INBOX', '(\\Flagged)' if i == 2 else None, imaplib.Time2Internaldate(time.time()), raw))
    out.setdefault('appenduid', []).append(data[0].decode())

data = ok(M.select('INBOX'))
out['exists'] = int(data[0])
out['search_all'] = ok(M.search(None, 'ALL'))[0].decode()
out['search_flagged'] = ok(M.search(None, 'FLAGGED'))[0].decode()
out['search_subject'] = ok(M.uid('SEARCH', None, 'SUBJECT', '"number 3"'))[0].decode()
out['search_body'] = ok(M.search(None, 'BODY', '"of message 1"'))[0].decode()

# Headers first…
data = ok(M.fetch('1:*', '(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])'))
out['headers'] = [email.message_from_bytes(part[1])['Subject'] for part in data if isinstance(part, tuple)]
out['flags_after_peek'] = [l.decode() for l in ok(M.fetch('1:*', '(FLAGS)'))]
# …then bodies, byte-exact; BODY[] sets \Seen.
bodies = ok(M.uid('FETCH', '1:*', '(BODY[])'))
out['bodies_equal'] = [part[1] == msgs[n] for n, part in enumerate([p for p in bodies if isinstance(p, tuple)])]
out['flags_after_body'] = [l.decode() for l in ok(M.fetch('1:*', '(FLAGS)'))]

out['store'] = [l.decode() for l in ok(M.store('1', '+FLAGS', '(\\Answered $Label1)'))]
out['store_minus'] = [l.decode() for l in ok(M.store('1', '-FLAGS.SILENT', '(\\Seen)')) if l]
out['copy'] = M.copy('1:2', 'Archive')[1][0].decode()
typ, data = M.uid('MOVE', '3', 'Trash')
out['move'] = [typ, M.untagged_responses.get('OK', [b''])[-1].decode() if M.untagged_responses.get('OK') else '']
out['after_move'] = ok(M.search(None, 'ALL'))[0].decode()
ok(M.store('1', '+FLAGS', '\\Deleted'))
typ, data = M.expunge()
out['expunge'] = [d.decode() for d in data if d]
out['status_archive'] = ok(M.status('Archive', '(MESSAGES UIDNEXT UNSEEN)'))[0].decode()
out['status_trash'] = ok(M.status('Trash', '(MESSAGES)'))[0].decode()

# IDLE (imaplib before 3.14 has no idle()): another connection appends meanwhile.
tag = M._new_tag()
M.send(tag + b' IDLE\r\n')
out['idle_cont'] = M.readline().decode().strip()


def other():
    time.sleep(0.2)
    N = imaplib.IMAP4(host, port)
    N.login(user, password)
    N.append('INBOX', None, None, b'Subject: during idle\r\n\r\nhi\r\n')
    N.logout()


t = threading.Thread(target=other)
t.start()
M.sock.settimeout(5)
out['idle_push'] = M.readline().decode().strip()
M.send(b'DONE\r\n')
rest = []
while True:
    line = M.readline().decode().strip()
    rest.append(line)
    if line.startswith(tag.decode()):
        break
out['idle_done'] = rest[-1]
t.join()
M.close()
out['logout'] = M.logout()[0]
print(json.dumps(out))
