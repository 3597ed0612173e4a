"""What getmail6 writes to a Maildir for a message whose POP3 form (what the server must send)
is given: getmail re-serialises every message through Python's email package and prepends a
Return-Path: header (getmailcore/message.py, Message.flatten), so the expectation is computed
with getmail's own code from the lines poplib hands it (_retrieverbases.py: `lines + [b'']`).

argv: in_dir out_dir — each file of in_dir (a POP3 form) gives the same name in out_dir.
"""
import os
import sys

from getmailcore.message import Message

src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
for name in sorted(os.listdir(src)):
    with open(os.path.join(src, name), "rb") as f:
        form = f.read()
    lines = form.split(b"\r\n")[:-1] if form else []
    msg = Message(fromlines=lines + [b""])
    with open(os.path.join(dst, name), "wb") as f:
        f.write(msg.flatten(False, False))
