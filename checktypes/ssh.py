"""SSH: handshake and optional login (password or stored key); optional content match."""

from __future__ import annotations

from prober.base import BoolIsh, CheckParams, Port, StrIsh

NAME = "SSH"

_FORBIDDEN_IN_TARGET = frozenset(' $;"')


class Params(CheckParams):
    SECRET_FIELDS = frozenset({"password"})

    port: Port = 22
    username: StrIsh | None = None
    password: StrIsh | None = None
    sshkey: StrIsh | None = None
    """Id of a stored SSH private key."""
    contentstring: StrIsh | None = None
    """A string expected in the shell output after login."""
    invert: BoolIsh = False
    ipv6: BoolIsh = False

    @classmethod
    def check_target(cls, target: str) -> str:
        if _FORBIDDEN_IN_TARGET.intersection(target):
            raise ValueError('Target must not contain spaces, $, ; or "')
        return target


run = None
