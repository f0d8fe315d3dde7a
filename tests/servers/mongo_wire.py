"""A small MongoDB wire-protocol server, run in-process, for the MONGODB check type.

No MongoDB server is packaged for Debian, so the tests talk to this one instead: a real TCP server (asyncio,
on 127.0.0.1, port 0) speaking the wire protocol that pymongo speaks, with the ``bson`` module that ships
with pymongo. It answers what a driver needs to connect, authenticate and query:

- OP_MSG (and the legacy OP_QUERY handshake of older drivers) carrying ``hello``/``isMaster``, ``ping``,
  ``buildInfo``, ``endSessions``, ``killCursors``, ``find``, ``saslStart``/``saslContinue``;
- SCRAM-SHA-256 (RFC 7677) against the users it was given: a wrong password fails with code 18
  "Authentication failed." like mongod; with users configured, ``find`` requires an authenticated connection
  (code 13 "Unauthorized");
- ``find`` over in-memory collections: equality on (dotted) fields, ``$eq $ne $gt $gte $lt $lte $in $nin
  $exists``, ``$and``/``$or``, ``skip`` and ``limit``; an unknown operator fails with code 2 (BadValue) and
  mongod's wording; a ``find`` on the collection ``stuck`` is never answered.

The server runs on its own event loop in a thread, so one instance serves every test of the session whatever
loop each test runs on. Fixture ``mongo_wire_server`` yields a :class:`MongoWireServer` with a plain and a
TLS listener (trustme certificate; the CA is in ``ca_pem``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import re
import secrets
import shutil
import ssl
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import bson
import pytest
import trustme
from bson.int64 import Int64

from .common import make_daemon_dir

OP_REPLY = 1
OP_QUERY = 2004
OP_MSG = 2013
MAX_WIRE_VERSION = 21  # MongoDB 7.0
SCRAM_ITERATIONS = 4096  # the minimum drivers accept

USERS = {"monitor": "s3cret-pw"}
DATA: dict[str, dict[str, list[dict[str, Any]]]] = {
    "app": {
        "users": [
            {"_id": 1, "name": "alice", "active": True, "age": 31, "address": {"city": "Oslo"}},
            {"_id": 2, "name": "bob", "active": False, "age": 45, "address": {"city": "Lima"}},
            {"_id": 3, "name": "carol", "active": True, "age": 27, "tags": ["admin", "ops"]},
        ],
        "status": [{"_id": "queue", "depth": 12, "state": "ok", "checked": datetime(2024, 5, 1, 12, 0)}],
        "events": [{"_id": n, "n": n} for n in range(40)],
    }
}


class NoReply(Exception):
    """The command gets no answer at all (a server stuck on a query)."""


class CommandError(Exception):
    def __init__(self, code: int, code_name: str, message: str) -> None:
        super().__init__(message)
        self.reply = {"ok": 0.0, "errmsg": message, "code": code, "codeName": code_name}


def _auth_failed() -> CommandError:
    return CommandError(18, "AuthenticationFailed", "Authentication failed.")


# --- find filters ---------------------------------------------------------------------------------

_MISSING = object()


def _lookup(document: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(document, dict) and part in document:
            document = document[part]
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            return _MISSING
    return document


def _compare(value: Any, operator: str, operand: Any) -> bool:
    present = value is not _MISSING
    if operator == "$eq":
        return present and value == operand
    if operator == "$ne":
        return not present or value != operand
    if operator == "$in":
        return present and value in operand
    if operator == "$nin":
        return not present or value not in operand
    if operator == "$exists":
        return present == bool(operand)
    if not present or isinstance(value, bool) != isinstance(operand, bool):
        return False
    try:
        return {
            "$gt": value > operand,
            "$gte": value >= operand,
            "$lt": value < operand,
            "$lte": value <= operand,
        }[operator]
    except TypeError:
        return False


_OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"})


def matches(document: dict[str, Any], query: dict[str, Any]) -> bool:
    for key, condition in query.items():
        if key in ("$and", "$or"):
            results = [matches(document, part) for part in condition]
            if not (all(results) if key == "$and" else any(results)):
                return False
            continue
        if key.startswith("$"):
            raise CommandError(2, "BadValue", f"unknown top level operator: {key}")
        value = _lookup(document, key)
        if isinstance(condition, dict) and condition and all(op.startswith("$") for op in condition):
            for operator, operand in condition.items():
                if operator not in _OPERATORS:
                    raise CommandError(2, "BadValue", f"unknown operator: {operator}")
                if not _compare(value, operator, operand):
                    return False
        elif not _compare(value, "$eq", condition):
            return False
    return True


# --- SCRAM-SHA-256 --------------------------------------------------------------------------------


def _scram_fields(payload: bytes) -> dict[str, str]:
    return dict(item.split("=", 1) for item in payload.decode().split(",") if "=" in item)


@dataclass
class _Scram:
    user: str
    password: str
    client_first_bare: str
    server_first: str
    salt: bytes

    @classmethod
    def start(cls, users: dict[str, str], payload: bytes) -> _Scram:
        text = payload.decode()
        if not text.startswith("n,,"):
            raise _auth_failed()
        bare = text[3:]
        fields = _scram_fields(bare.encode())
        user = fields.get("n", "").replace("=2C", ",").replace("=3D", "=")
        if user not in users:
            raise _auth_failed()
        salt = hashlib.sha256(user.encode()).digest()[:16]
        nonce = fields["r"] + base64.b64encode(secrets.token_bytes(18)).decode()
        server_first = f"r={nonce},s={base64.b64encode(salt).decode()},i={SCRAM_ITERATIONS}"
        return cls(user, users[user], bare, server_first, salt)

    def finish(self, payload: bytes) -> bytes:
        text = payload.decode()
        without_proof, _, proof = text.rpartition(",p=")
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), self.salt, SCRAM_ITERATIONS)
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        stored_key = hashlib.sha256(client_key).digest()
        auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        signature = hmac.digest(stored_key, auth_message, "sha256")
        expected = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        if not hmac.compare_digest(base64.b64decode(proof), expected):
            raise _auth_failed()
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        return b"v=" + base64.b64encode(hmac.digest(server_key, auth_message, "sha256"))


# --- the server -----------------------------------------------------------------------------------


@dataclass
class _Session:
    users: dict[str, str]
    authenticated: str | None = None
    scram: _Scram | None = None


@dataclass
class MongoWireServer:
    port: int = 0
    tls_port: int = 0
    ca_pem: str = ""
    users: dict[str, str] = field(default_factory=lambda: dict(USERS))
    data: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=lambda: DATA)
    commands: list[dict[str, Any]] = field(default_factory=list)
    """Every command received (newest last, SASL payloads left out): tests look at what the driver sent."""
    host: str = "127.0.0.1"

    def uri(
        self,
        user: str | None = None,
        password: str | None = None,
        *,
        tls_listener: bool = False,
        **options: str,
    ) -> str:
        """``mongodb://`` URI of the plain listener (or the TLS one); ``options`` become URI options."""
        auth = f"{user}:{password}@" if user else ""
        port = self.tls_port if tls_listener else self.port
        query = "&".join(f"{key}={value}" for key, value in options.items())
        return f"mongodb://{auth}{self.host}:{port}/" + (f"?{query}" if query else "")

    def sent(self, name: str) -> list[dict[str, Any]]:
        """The commands received with this name (case-insensitive: drivers send ``ismaster``)."""
        return [command for command in self.commands if next(iter(command), "").lower() == name.lower()]

    # One connection: read messages until the client goes away.
    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self.users)
        try:
            while True:
                header = await reader.readexactly(16)
                length, request_id, _, opcode = struct.unpack("<iiii", header)
                if opcode not in (OP_MSG, OP_QUERY) or not 16 < length <= 48_000_000:
                    break  # not the wire protocol (a TLS ClientHello, say): hang up like mongod
                body = await reader.readexactly(length - 16)
                if opcode == OP_MSG:
                    try:
                        reply = self.handle(_op_msg_command(body), session)
                    except NoReply:
                        continue
                    payload = struct.pack("<IB", 0, 0) + bson.encode(reply)
                    writer.write(struct.pack("<iiii", 16 + len(payload), 0, request_id, OP_MSG) + payload)
                else:
                    reply = self.handle(_op_query_command(body), session)
                    payload = struct.pack("<iqii", 0, 0, 0, 1) + bson.encode(reply)
                    writer.write(struct.pack("<iiii", 16 + len(payload), 0, request_id, OP_REPLY) + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    def handle(self, command: dict[str, Any], session: _Session) -> dict[str, Any]:
        name = next(iter(command))
        self.commands.append({key: value for key, value in command.items() if key not in ("payload",)})
        try:
            handler = getattr(self, f"_cmd_{name.lower()}", None)
            if handler is None:
                raise CommandError(59, "CommandNotFound", f"no such command: '{name}'")
            reply: dict[str, Any] = handler(command, session)
        except CommandError as exc:
            return exc.reply
        return {**reply, "ok": 1.0}

    def _cmd_hello(self, command: dict[str, Any], session: _Session) -> dict[str, Any]:
        reply: dict[str, Any] = {
            "isWritablePrimary": True,
            "ismaster": True,
            "helloOk": True,
            "maxBsonObjectSize": 16 * 1024 * 1024,
            "maxMessageSizeBytes": 48_000_000,
            "maxWriteBatchSize": 100_000,
            "localTime": datetime.now(UTC),
            "logicalSessionTimeoutMinutes": 30,
            "connectionId": 1,
            "minWireVersion": 0,
            "maxWireVersion": MAX_WIRE_VERSION,
            "readOnly": False,
        }
        if "saslSupportedMechs" in command:
            reply["saslSupportedMechs"] = ["SCRAM-SHA-256"]
        return reply

    _cmd_ismaster = _cmd_hello

    def _cmd_ping(self, command: dict[str, Any], session: _Session) -> dict[str, Any]:
        return {}

    def _cmd_buildinfo(self, command: dict[str, Any], session: _Session) -> dict[str, Any]:
        return {"version": "7.0.0", "versionArray": [7, 0, 0, 0], "maxBsonObjectSize": 16 * 1024 * 1024}

    def _cmd_endsessions(self, command: dict[str, Any], session: _Session) -> dict[str, Any]:
        return {}

    def _cmd_killcursors(self, command: dict[str, Any], session: _Session) -> dict[str, Any]:
        return {"cursorsKilled": [], "cursorsNotFound": [], "cursorsAlive": [], "cursorsUnknown": []}

    def _cmd_saslstart(self, command: dict[str, Any], session: _Session) -> dict[str, Any]:
        if command.get("mechanism") != "SCRAM-SHA-256":
            raise CommandError(
                334,
                "MechanismUnavailable",
                f"Received authentication for mechanism "
                f"{command.get('mechanism')} which is unknown or not enabled",
            )
        session.scram = _Scram.start(session.users, bytes(command["payload"]))
        return {"conversationId": 1, "done": False, "payload": session.scram.server_first.encode()}

    def _cmd_saslcontinue(self, command: dict[str, Any], session: _Session) -> dict[str, Any]:
        scram, session.scram = session.scram, None
        if scram is None:
            raise CommandError(17, "ProtocolError", "No SASL session state found")
        server_final = scram.finish(bytes(command["payload"]))
        session.authenticated = scram.user
        return {"conversationId": 1, "done": True, "payload": server_final}

    def _cmd_find(self, command: dict[str, Any], session: _Session) -> dict[str, Any]:
        if self.users and session.authenticated is None:
            raise CommandError(13, "Unauthorized", "Command find requires authentication")
        database, collection = command["$db"], command["find"]
        if collection == "stuck":
            raise NoReply
        query = command.get("filter", {})
        found = [doc for doc in self.data.get(database, {}).get(collection, []) if matches(doc, query)]
        skip = int(command.get("skip", 0))
        limit = abs(int(command.get("limit", 0)))
        batch = found[skip : skip + limit] if limit else found[skip:]
        return {"cursor": {"firstBatch": batch, "id": Int64(0), "ns": f"{database}.{collection}"}}


def _op_msg_command(body: bytes) -> dict[str, Any]:
    flags = struct.unpack_from("<I", body)[0]
    end = len(body) - (4 if flags & 1 else 0)  # checksumPresent
    offset = 4
    command: dict[str, Any] = {}
    sequences: dict[str, list[Any]] = {}
    while offset < end:
        kind = body[offset]
        offset += 1
        if kind == 0:
            size = struct.unpack_from("<i", body, offset)[0]
            command = bson.decode(body[offset : offset + size])
            offset += size
        else:
            size = struct.unpack_from("<i", body, offset)[0]
            section = body[offset + 4 : offset + size]
            identifier, _, documents = section.partition(b"\0")
            sequences[identifier.decode()] = bson.decode_all(documents)
            offset += size
    command.update(sequences)
    return command


_CSTRING = re.compile(rb"([^\0]*)\0")


def _op_query_command(body: bytes) -> dict[str, Any]:
    match = _CSTRING.match(body, 4)
    assert match is not None
    offset = match.end() + 8  # numberToSkip, numberToReturn
    size = struct.unpack_from("<i", body, offset)[0]
    command = bson.decode(body[offset : offset + size])
    if "$query" in command:
        command = command["$query"]
    return command


def _server_tls(daemon_dir: str) -> tuple[ssl.SSLContext, str]:
    authority = trustme.CA()
    certificate = authority.issue_cert("localhost", "127.0.0.1", "::1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    ca_pem = os.path.join(daemon_dir, "ca.pem")
    authority.cert_pem.write_to_path(ca_pem)
    return context, ca_pem


@pytest.fixture(scope="session")
def mongo_wire_server() -> Iterator[MongoWireServer]:
    daemon_dir = make_daemon_dir("mongo-wire-")
    tls_context, ca_pem = _server_tls(daemon_dir)
    server = MongoWireServer(ca_pem=ca_pem)
    loop = asyncio.new_event_loop()

    async def listen() -> list[asyncio.Server]:
        plain = await asyncio.start_server(server.serve, "127.0.0.1", 0)
        tls = await asyncio.start_server(server.serve, "127.0.0.1", 0, ssl=tls_context)
        server.port = plain.sockets[0].getsockname()[1]
        server.tls_port = tls.sockets[0].getsockname()[1]
        return [plain, tls]

    listeners = loop.run_until_complete(listen())
    thread = threading.Thread(target=loop.run_forever, name="mongo-wire", daemon=True)
    thread.start()
    try:
        yield server
    finally:

        async def close() -> None:
            for listener in listeners:
                listener.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        shutil.rmtree(daemon_dir, ignore_errors=True)
