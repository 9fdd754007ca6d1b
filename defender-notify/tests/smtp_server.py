"""A real SMTP server for the defender-notify tests (aiosmtpd), on 127.0.0.1.

Usage: smtp_server.py PORT MODE [CERT KEY]   (MODE: plain, starttls or tls)
Prints "READY" once listening, then {"attempt": n} for every DATA and one JSON line per accepted mail with the envelope and the
parsed message (subject, from, to, text and HTML parts). Exits when stdin closes.
"""
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    """SMTP_FAIL_FIRST=N answers 451 to the first N mails; SMTP_REJECT=1 answers 550 to all."""

    def __init__(self):
        self.fail_first = int(os.environ.get("SMTP_FAIL_FIRST", "0"))
        self.reject = os.environ.get("SMTP_REJECT") == "1"
        self.seen = 0

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        print(json.dumps({"attempt": self.seen}), flush=True)
        if self.reject:
            return "550 5.7.1 Message rejected by policy"
        if self.seen <= self.fail_first:
            return "451 4.3.0 Temporary failure, try again"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = {}
        for part in msg.walk():
            ctype = part.get_content_type()
            if ctype in ("text/plain", "text/html") and ctype not in parts:
                parts[ctype] = part.get_content().replace("\r\n", "\n")
        print(json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(msg.get("Subject", "")),
            "from": str(msg.get("From", "")),
            "to": str(msg.get("To", "")),
            "content_type": msg.get_content_type(),
            "text": parts.get("text/plain"),
            "html": parts.get("text/html"),
            "auth": auth_login(session),
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
        }), flush=True)
        return "250 Message accepted for delivery"


def auth_login(session):
    data = getattr(session, "auth_data", None)
    if isinstance(data, LoginPassword):
        return data.login.decode()
    return None


def make_authenticator(expected):
    """SMTP_AUTH=user:password requires AUTH with exactly these credentials."""
    user, _, password = expected.partition(":")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False: aiosmtpd answers "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=False, handled=False)

    return authenticator


def main():
    port = int(sys.argv[1])
    mode = sys.argv[2]
    kwargs = {}
    if mode in ("starttls", "tls"):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        if mode == "starttls":
            kwargs["tls_context"] = ctx
            kwargs["require_starttls"] = True
        else:
            kwargs["ssl_context"] = ctx
    if os.environ.get("SMTP_AUTH"):
        kwargs["authenticator"] = make_authenticator(os.environ["SMTP_AUTH"])
        kwargs["auth_required"] = True
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("READY", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
