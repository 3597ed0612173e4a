"""Drives Python's poplib against the test server.

argv[1] is a JSON object: {host, port, security: plain|stls|ssl, auth: user|plain, user,
password, actions: [[name, args...], ...]}. Prints a JSON list with one result per action.
A message retrieved with RETR is written to <dir>/<n>.eml as the client holds it: poplib's
lines (byte-stuffing removed) joined with CRLF, plus the final CRLF.
"""
import base64
import json
import os
import poplib
import ssl
import sys

# Some corpus messages have lines longer than poplib's default 2048-octet guard.
poplib._MAXLINE = 1 << 20

spec = json.loads(sys.argv[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

if spec["security"] == "ssl":
    p = poplib.POP3_SSL(spec["host"], spec["port"], context=ctx, timeout=20)
else:
    p = poplib.POP3(spec["host"], spec["port"], timeout=20)
results = [{"welcome": p.getwelcome().decode("latin1")}]
if spec["security"] == "stls":
    results.append({"stls": p.stls(context=ctx).decode("latin1")})
try:
    if spec["auth"] == "user":
        p.user(spec["user"])
        results.append({"login": p.pass_(spec["password"]).decode("latin1")})
    else:
        token = base64.b64encode(("\0%s\0%s" % (spec["user"], spec["password"])).encode()).decode()
        results.append({"login": p._shortcmd("AUTH PLAIN " + token).decode("latin1")})
except poplib.error_proto as e:
    results.append({"error": e.args[0].decode("latin1")})
    print(json.dumps(results))
    sys.exit(0)

for action in spec.get("actions", []):
    name, args = action[0], action[1:]
    try:
        if name == "capa":
            results.append({k: v for k, v in p.capa().items()})
        elif name == "stat":
            results.append(list(p.stat()))
        elif name == "list":
            resp, lines, _ = p.list()
            results.append([l.decode() for l in lines])
        elif name == "uidl":
            resp, lines, _ = p.uidl()
            results.append([l.decode() for l in lines])
        elif name == "retr_all":
            out = args[0]
            os.makedirs(out, exist_ok=True)
            count = p.stat()[0]
            sizes = {}
            for n in range(1, count + 1):
                resp, lines, octets = p.retr(n)
                data = b"\r\n".join(lines) + b"\r\n" if lines else b""
                with open(os.path.join(out, "%d.eml" % n), "wb") as f:
                    f.write(data)
                sizes[n] = {"octets": octets, "status": resp.decode("latin1")}
            results.append(sizes)
        elif name == "top":
            resp, lines, _ = p.top(args[0], args[1])
            results.append((b"\r\n".join(lines) + b"\r\n").decode("latin1"))
        elif name == "dele":
            results.append(p.dele(args[0]).decode("latin1"))
        elif name == "rset":
            results.append(p.rset().decode("latin1"))
        elif name == "noop":
            results.append(p.noop().decode("latin1"))
        elif name == "raw":
            results.append(p._shortcmd(args[0]).decode("latin1"))
        elif name == "quit":
            results.append(p.quit().decode("latin1"))
        else:
            results.append({"error": "unknown action " + name})
    except poplib.error_proto as e:
        results.append({"error": e.args[0].decode("latin1") if isinstance(e.args[0], bytes) else str(e.args[0])})
print(json.dumps(results))
