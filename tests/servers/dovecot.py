"""A real Dovecot IMAP + POP3 server (Debian packages dovecot-imapd, dovecot-pop3d); test-servers.md §6.

Fixture:

- ``dovecot_server`` (session): one dovecot per test session (per xdist worker) on 127.0.0.1 with four
  listeners: IMAP (STARTTLS offered), IMAPS, POP3 (STLS offered) and POP3S, all with the self-signed
  ``mail_certificate``. Users (passwd-file, plain text passwords, no failed-login delay or penalty):
  ``tester``/``testpw`` and the users of :data:`EXTRA_USERS`, whose passwords need IMAP quoting or a literal.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .common import all_tcp_open, daemon_dir, distinct_free_ports, require_binary, run_daemon
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
    with daemon_dir("dovecot-") as d:
        os.makedirs(f"{d}/run")
        os.makedirs(f"{d}/mail")
        shutil.chown(f"{d}/mail", "nobody", "nogroup")
        users = {USER: PASSWORD, **EXTRA_USERS}
        with open(f"{d}/users", "w", encoding="utf-8") as f:
            f.writelines(f"{name}:{{PLAIN}}{password}\n" for name, password in users.items())

        def command(ports: list[int]) -> list[str]:
            with open(f"{d}/dovecot.conf", "w", encoding="utf-8") as f:
                f.write(_config(d, mail_certificate, *ports))
            return [binary, "-F", "-c", f"{d}/dovecot.conf"]

        with run_daemon(
            "dovecot",
            d,
            lambda: distinct_free_ports(4),
            command,
            all_tcp_open,
            attempts=3,
            logs=[f"{d}/dovecot.log"],
        ) as (imap, imaps, pop3, pop3s):
            yield DovecotServer(imap, imaps, pop3, pop3s, log=f"{d}/dovecot.log")
