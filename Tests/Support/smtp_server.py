#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the alert-channel tests.

Prints "READY <port>" once it accepts connections, then writes each message it receives to OUT_DIR as
<n>.json: the envelope (mail_from, rcpt_tos), the raw message bytes (latin-1 text) and what Python's email package
parses from them (headers, decoded body text, content type, charset, transfer encoding). Runs until stdin closes
(the test process exits) or it is killed.

Modes for error paths:
  --reject-rcpt ADDR   answer RCPT TO:<ADDR> with 550
  --auth USER:PASS     require AUTH (PLAIN or LOGIN, offered without TLS) with these credentials
  --mode close         a raw socket server: greets, then closes the connection after EHLO
  --mode silent        a raw socket server: accepts and never says anything (client timeout)
"""
import argparse
import asyncio
import email
import email.policy
import json
import os
import socket
import sys
import threading


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_message(out_dir, counter, envelope, session=None):
    raw = envelope.content if isinstance(envelope.content, bytes) else envelope.original_content
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_content() if not msg.is_multipart() else None
    record = {
        "mail_from": envelope.mail_from,
        "helo": session.host_name if session is not None else None,
        "rcpt_tos": list(envelope.rcpt_tos),
        "raw": raw.decode("latin-1"),
        "headers": {k: str(v) for k, v in msg.items()},
        "header_count": {k: len(msg.get_all(k)) for k in msg.keys()},
        "content_type": msg.get_content_type(),
        "charset": msg.get_content_charset(),
        "transfer_encoding": msg.get("Content-Transfer-Encoding"),
        "body": body,
        "defects": [type(d).__name__ for d in msg.defects],
    }
    path = os.path.join(out_dir, "%d.json" % counter)
    with open(path + ".tmp", "w") as f:
        json.dump(record, f)
    os.rename(path + ".tmp", path)


def run_aiosmtpd(args, port):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    counter = [0]

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if args.reject_rcpt and address == args.reject_rcpt:
                return "550 5.1.1 no such user here"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            counter[0] += 1
            write_message(args.out, counter[0], envelope, session)
            return "250 Message accepted for delivery"

    kwargs = {}
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login.decode() == user and auth_data.password.decode() == password
            # handled=False: the server answers (235, or 535 on a failure).
            return AuthResult(success=ok, handled=False)

        kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, decode_data=False, **kwargs)
    controller.start()
    return controller


def run_raw(mode, port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(8)

    def serve():
        held = []
        while True:
            conn, _ = srv.accept()
            if mode == "silent":
                held.append(conn)  # never answers, never closes
                continue
            conn.sendall(b"220 test ESMTP\r\n")
            conn.recv(1024)  # EHLO
            conn.close()

    threading.Thread(target=serve, daemon=True).start()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--reject-rcpt")
    p.add_argument("--auth")
    p.add_argument("--mode", choices=["smtp", "close", "silent"], default="smtp")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    port = free_port()
    if args.mode == "smtp":
        run_aiosmtpd(args, port)
    else:
        run_raw(args.mode, port)
    print("READY %d" % port, flush=True)
    sys.stdin.read()  # until the test closes our stdin (or exits)


if __name__ == "__main__":
    main()
