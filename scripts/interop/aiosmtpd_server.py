#!/usr/bin/python3
"""aiosmtpd servers for postwire's `make interop` (run by run.sh, Debian's python3-aiosmtpd).

One process, three listeners on 127.0.0.1, each on a port the kernel picks (port 0, so no race):

  plain     SMTP, SMTPUTF8, 8BITMIME, SIZE; no STARTTLS, no AUTH.
  starttls  as plain, plus STARTTLS and AUTH PLAIN/LOGIN (offered only after STARTTLS);
            MAIL needs AUTH (auth_required).
  smtps     implicit TLS (RFC 8314) with AUTH PLAIN/LOGIN, MAIL needs AUTH.

Once all listen, the addresses are written as JSON to --addr-file (atomically: a temporary
file renamed), which is what run.sh waits for.

Every message accepted is stored in --dir/<listener>/ as two files, written before the
server answers the end of data:
  <n>.eml   envelope.original_content: the bytes between DATA's 354 and the final dot,
            un-dot-stuffed by aiosmtpd, CRLFs as received; nothing added.
  <n>.json  the envelope: mail_from, mail_options, rcpt_tos, rcpt_options, smtp_utf8, tls,
            login (the authenticated user or null), listener. Written last (renamed into place).

Recipients whose local part starts with "refuse" are refused at RCPT with
"550 5.1.1 <addr>: Recipient address rejected"; the test user is postwire / interop-secret.
"""

import argparse
import asyncio
import itertools
import json
import logging
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

USER = b"postwire"
PASSWORD = b"interop-secret"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == USER and auth_data.password == PASSWORD)
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


class Recorder:
    """aiosmtpd handler that stores each message and its envelope."""

    counter = itertools.count(1)

    def __init__(self, name, directory):
        self.name = name
        self.dir = os.path.join(directory, name)
        os.makedirs(self.dir, exist_ok=True)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local.lower().startswith("refuse"):
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(list(rcpt_options))
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        base = os.path.join(self.dir, "%06d" % n)
        write_atomic(base + ".eml", bytes(envelope.original_content))
        login = getattr(session.auth_data, "login", None)
        meta = {
            "listener": self.name,
            "mail_from": envelope.mail_from,
            "mail_options": list(envelope.mail_options),
            "rcpt_tos": list(envelope.rcpt_tos),
            "rcpt_options": envelope.rcpt_options,
            "smtp_utf8": bool(envelope.smtp_utf8),
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "login": login.decode("utf-8", "replace") if login is not None else None,
        }
        write_atomic(base + ".json", json.dumps(meta, indent=1).encode())
        return "250 2.0.0 OK stored as %s" % os.path.basename(base)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True, help="where messages are stored")
    ap.add_argument("--addr-file", required=True, help="JSON file of listener addresses")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args()

    if args.host not in ("127.0.0.1", "::1"):
        sys.exit("aiosmtpd_server.py: only loopback addresses are allowed")

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.cert, args.key)

    loop = asyncio.get_running_loop()
    common = dict(enable_SMTPUTF8=True, decode_data=False, hostname="aiosmtpd.interop",
                  data_size_limit=32 << 20, timeout=60, loop=loop)

    listeners = {
        "plain": lambda h: SMTP(h, **common),
        "starttls": lambda h: SMTP(h, tls_context=tls, require_starttls=True,
                                   auth_required=True, auth_require_tls=True,
                                   authenticator=authenticator, **common),
        # Implicit TLS: the TLS is the listener's, so aiosmtpd sees no tls_context
        # and must not require TLS for AUTH (it is already encrypted).
        "smtps": lambda h: SMTP(h, auth_required=True, auth_require_tls=False,
                                authenticator=authenticator, **common),
    }
    addrs = {}
    servers = []
    for name, factory in listeners.items():
        handler = Recorder(name, args.dir)
        srv = await loop.create_server(
            lambda f=factory, h=handler: f(h), args.host, 0,
            ssl=tls if name == "smtps" else None)
        host, port = srv.sockets[0].getsockname()[:2]
        addrs[name] = "%s:%d" % (host, port) if ":" not in host else "[%s]:%d" % (host, port)
        servers.append(srv)

    write_atomic(args.addr_file, json.dumps(addrs).encode())
    print("aiosmtpd listening:", addrs, flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for srv in servers:
        srv.close()
        await srv.wait_closed()
    print("aiosmtpd stopped", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # aiosmtpd logs every line at DEBUG; INFO keeps the log readable.
    asyncio.run(main())
