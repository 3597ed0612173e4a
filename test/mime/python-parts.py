"""Reference MIME leaf list from Python's email package, for test/mime/corpus.test.ts.

Reads file paths on stdin (one per line), prints one JSON object per line:
{"file": path, "parts": ["text/plain", ...], "defects": ["ClassName", ...]}. `parts` lists,
depth first, every part that is not a multipart: leaves and enclosed messages
(message/rfc822, message/global, followed by the parts of the message they enclose).
Other message/* subtypes are leaves, as in core/mime/index-message.ts.
"""
import email
import email.policy
import json
import sys


def parts(msg, out):
    ctype = msg.get_content_type()
    payload = msg.get_payload()
    if msg.is_multipart() and ctype.startswith('multipart/'):
        for sub in payload:
            parts(sub, out)
    elif ctype in ('message/rfc822', 'message/global') and isinstance(payload, list) and payload:
        out.append(ctype)
        parts(payload[0], out)
    else:
        out.append(ctype)


def defects(msg, out):
    out.extend(type(d).__name__ for d in msg.defects)
    payload = msg.get_payload()
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, email.message.Message):
                defects(sub, out)
    return out


for line in sys.stdin:
    path = line.rstrip('\n')
    if not path:
        continue
    with open(path, 'rb') as fh:
        msg = email.message_from_binary_file(fh, policy=email.policy.compat32)
    out = []
    parts(msg, out)
    print(json.dumps({'file': path, 'parts': out, 'defects': defects(msg, [])}), flush=True)
