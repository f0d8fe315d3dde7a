"""A real exim4 MTA (Debian package exim4-daemon-heavy) with STARTTLS and AUTH; test-servers.md §8a.

Fixture:

- ``exim_server`` (session): one exim daemon per test session (per xdist worker) on 127.0.0.1, the §8a
  configuration plus an implicit-TLS port and two ports that advertise fewer AUTH mechanisms:

  ========== ===================================== ===================================
  port       TLS                                   AUTH offered (only after TLS)
  ========== ===================================== ===================================
  ``smtp``   STARTTLS                              PLAIN LOGIN
  ``smtps``  implicit (``tls_on_connect_ports``)   PLAIN LOGIN
  ``login``  STARTTLS                              LOGIN
  ``cram``   STARTTLS                              CRAM-MD5
  ========== ===================================== ===================================

  User ``tester``/``testpw``. RCPT TO is accepted for authenticated clients and refused with
  ``550 authentication required`` otherwise. Accepted mail would land in ``mbox`` (tests assert that the
  check never sends any).

exim switches to the Debian-exim user, so the parent-death signal does not reach it: a small watchdog
process (which does get the signal) stops exim by its PID when the test process dies.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .common import (
    all_tcp_open,
    die_with_parent,
    distinct_free_ports,
    make_daemon_dir,
    read_logs,
    require_binary,
    stop,
    wait_until,
)
from .mailcert import MailCertificate

EXIM = "/usr/sbin/exim4"
USER = "tester"
PASSWORD = "testpw"

_WATCHDOG = """
import os, signal, sys
pid = int(sys.argv[1])
def _stop(signum, frame):
    try:
        os.kill(pid, signal.SIGTERM)
    finally:
        os._exit(0)
signal.signal(signal.SIGTERM, _stop)
while True:
    signal.pause()
"""


@dataclass(frozen=True)
class EximServer:
    smtp: int
    smtps: int
    login: int
    cram: int
    mbox: str
    """Where accepted mail would be delivered."""
    mainlog: str
    """exim's main log: every received message has a "<=" line."""
    user: str = USER
    password: str = PASSWORD
    host: str = "127.0.0.1"


_CONFIG = """\
primary_hostname = mail.test
keep_environment =
spool_directory = @DIR@/spool
log_file_path = @DIR@/log/%slog
pid_file_path = @DIR@/exim.pid
local_interfaces = <; 127.0.0.1
daemon_smtp_ports = @SMTP@ : @SMTPS@ : @LOGIN@ : @CRAM@
tls_on_connect_ports = @SMTPS@
host_lookup =
rfc1413_hosts =
tls_advertise_hosts = *
tls_certificate = @CERT@
tls_privatekey = @KEY@
auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}}
acl_smtp_rcpt = acl_rcpt

begin acl
acl_rcpt:
  accept authenticated = *
  deny   message = authentication required

begin routers
all:
  driver = accept
  transport = to_file

begin transports
to_file:
  driver = appendfile
  file = @DIR@/mail/mbox
  user = Debian-exim

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_advertise_condition = ${if or{{eq{$received_port}{@SMTP@}}{eq{$received_port}{@SMTPS@}}}}
  server_prompts = :
  server_condition = ${if and{{eq{$auth2}{@USER@}}{eq{$auth3}{@PASSWORD@}}}}
  server_set_id = $auth2
login:
  driver = plaintext
  public_name = LOGIN
  server_advertise_condition = ${if !eq{$received_port}{@CRAM@}}
  server_prompts = Username:: : Password::
  server_condition = ${if and{{eq{$auth1}{@USER@}}{eq{$auth2}{@PASSWORD@}}}}
  server_set_id = $auth1
cram:
  driver = cram_md5
  public_name = CRAM-MD5
  server_advertise_condition = ${if eq{$received_port}{@CRAM@}}
  server_secret = ${if eq{$auth1}{@USER@}{@PASSWORD@}fail}
  server_set_id = $auth1
"""


def _config(d: str, cert: MailCertificate, smtp: int, smtps: int, login: int, cram: int) -> str:
    values = {
        "DIR": d,
        "SMTP": smtp,
        "SMTPS": smtps,
        "LOGIN": login,
        "CRAM": cram,
        "CERT": cert.cert_path,
        "KEY": cert.key_path,
        "USER": USER,
        "PASSWORD": PASSWORD,
    }
    text = _CONFIG
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    return text


def _start(d: str, binary: str) -> subprocess.Popen[bytes]:
    with open(f"{d}/stdout.log", "ab") as log:
        return subprocess.Popen(
            [binary, "-C", f"{d}/exim.conf", "-bdf", "-odi"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=d,
        )


@pytest.fixture(scope="session")
def exim_server(mail_certificate: MailCertificate) -> Iterator[EximServer]:
    binary = require_binary(EXIM, "exim4-daemon-heavy")
    d = make_daemon_dir("exim-")
    try:
        for sub in ("spool", "log", "mail"):
            os.makedirs(f"{d}/{sub}")
            shutil.chown(f"{d}/{sub}", "Debian-exim", "Debian-exim")
        for _attempt in range(3):
            ports = distinct_free_ports(4)
            with open(f"{d}/exim.conf", "w", encoding="utf-8") as f:
                f.write(_config(d, mail_certificate, *ports))
            check = subprocess.run(
                [binary, "-C", f"{d}/exim.conf", "-bV"], capture_output=True, text=True, check=False
            )
            if check.returncode != 0:
                raise RuntimeError(f"exim rejected its configuration:\n{check.stdout}\n{check.stderr}")
            proc = _start(d, binary)
            watchdog = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG, str(proc.pid)],
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
            try:
                try:
                    wait_until(functools.partial(all_tcp_open, ports), proc)
                except RuntimeError:
                    continue  # exited early: most likely a port was taken meanwhile
                smtp, smtps, login, cram = ports
                yield EximServer(smtp, smtps, login, cram, mbox=f"{d}/mail/mbox", mainlog=f"{d}/log/mainlog")
                return
            finally:
                stop(watchdog, signal.SIGKILL)  # first, so it cannot signal a reused PID
                children = _children(proc.pid)
                stop(proc)
                # Receiving processes still finishing a connection would write the log after rmtree.
                try:
                    wait_until(functools.partial(_all_gone, children), None, 5)
                except TimeoutError:
                    for child in children:
                        with contextlib.suppress(OSError):
                            os.kill(child, signal.SIGKILL)
        logs = read_logs(f"{d}/stdout.log", f"{d}/log/mainlog", f"{d}/log/paniclog")
        raise RuntimeError(f"exim did not start:\n{logs}")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except OSError:
        return []


def _all_gone(pids: list[int]) -> bool:
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rpartition(")")[2].split()[0] != "Z":
                    return False
        except OSError:
            pass
    return True
