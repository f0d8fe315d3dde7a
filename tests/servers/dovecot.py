"""A real Dovecot IMAP + POP3 server (Debian packages dovecot-imapd, dovecot-pop3d); test-servers.md §6.

Fixture:

- ``dovecot_server`` (session): one dovecot per test session (per xdist worker) on 127.0.0.1 with four
  listeners: IMAP (STARTTLS offered), IMAPS, POP3 (STLS offered) and POP3S, all with the self-signed
  ``mail_certificate``. Users (passwd-file, plain text passwords, no failed-login delay or penalty):
  ``tester``/``testpw`` and the users of :data:`EXTRA_USERS`, whose passwords need IMAP quoting or a literal.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .common import die_with_parent, free_port, make_daemon_dir, require_binary, stop, tcp_open, wait_until
from .mailcert import MailCertificate

DOVECOT = "/usr/sbin/dovecot"

USER = "tester"
PASSWORD = "testpw"
EXTRA_USERS = {
    "quoter": 'a "quoted" pass\\word',  # needs IMAP quoted-string escaping
    "unicode": "pässwörd-ünïcode",  # 8-bit: needs an IMAP literal
}


@dataclass(frozen=True)
class DovecotServer:
    imap: int
    imaps: int
    pop3: int
    pop3s: int
    log: str
    """dovecot's log file (logins and logouts are logged)."""
    user: str = USER
    password: str = PASSWORD
    host: str = "127.0.0.1"


def _config(d: str, cert: MailCertificate, imap: int, imaps: int, pop3: int, pop3s: int) -> str:
    return f"""\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert.cert_path}
ssl_key = <{cert.key_path}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{d}/mail/%u
passdb {{
  driver = passwd-file
  args = {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/mail/%u
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
"""


@pytest.fixture(scope="session")
def dovecot_server(mail_certificate: MailCertificate) -> Iterator[DovecotServer]:
    binary = require_binary(DOVECOT, "dovecot-imapd")
    require_binary("/usr/lib/dovecot/imap", "dovecot-imapd")
    require_binary("/usr/lib/dovecot/pop3", "dovecot-pop3d")
    d = make_daemon_dir("dovecot-")
    try:
        os.makedirs(f"{d}/run")
        os.makedirs(f"{d}/mail")
        shutil.chown(f"{d}/mail", "nobody", "nogroup")
        users = {USER: PASSWORD, **EXTRA_USERS}
        with open(f"{d}/users", "w", encoding="utf-8") as f:
            f.writelines(f"{name}:{{PLAIN}}{password}\n" for name, password in users.items())
        for _attempt in range(3):
            ports = [free_port() for _ in range(4)]
            if len(set(ports)) < 4:
                continue
            with open(f"{d}/dovecot.conf", "w", encoding="utf-8") as f:
                f.write(_config(d, mail_certificate, *ports))
            with open(f"{d}/stdout.log", "ab") as log:
                proc = subprocess.Popen(
                    [binary, "-F", "-c", f"{d}/dovecot.conf"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=die_with_parent(),
                )
            try:
                wait_until(functools.partial(_all_open, ports), proc)
            except RuntimeError:
                continue  # exited early: most likely a port was taken meanwhile
            except BaseException:
                stop(proc)
                raise
            try:
                imap, imaps, pop3, pop3s = ports
                yield DovecotServer(imap, imaps, pop3, pop3s, log=f"{d}/dovecot.log")
            finally:
                stop(proc)
            return
        raise RuntimeError(f"dovecot did not start:\n{_logs(d)}")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _all_open(ports: list[int]) -> bool:
    return all(tcp_open(port) for port in ports)


def _logs(d: str) -> str:
    texts = []
    for path in (f"{d}/stdout.log", f"{d}/dovecot.log"):
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                texts.append(f"--- {path}\n{f.read()}")
    return "\n".join(texts)
