"""SNMP against a real net-snmp agent (Debian snmpd): v1, v2c and v3 at every security level."""

from __future__ import annotations

import asyncio
import itertools
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest
import pytest_asyncio
from pydantic import ValidationError
from servers.checkrun import expect_config_error
from servers.snmpd import (
    AUTH_PASSWORD,
    PRIV_PASSWORD,
    SYS_CONTACT,
    SYS_LOCATION,
    SYS_NAME,
    SYS_OBJECT_ID,
    SYS_SERVICES,
    SYS_UPTIME,
    SnmpAgent,
)

from prober.base import CheckContext, CheckResult
from prober.registry import CheckType, load_registry
from prober.runner import run_check, validation_message

pytestmark = pytest.mark.xdist_group("snmp")

OK = "All fields within parameters"
MISSING_OID = "1.3.6.1.2.1.1.99.0"


@pytest.fixture(scope="module")
def snmp_type() -> CheckType:
    return load_registry(autoload=False, builtins=["checktypes.snmp"]).get("SNMP")


async def check(
    snmp_type: CheckType,
    port: int,
    *,
    target: str = "127.0.0.1",
    deadline: float = 5.0,
    threshold: int = 5,
    monotonic: Callable[[], float] | None = None,
    **params: Any,
) -> CheckResult:
    ctx = CheckContext(target=target, threshold=threshold, timeout=deadline, monotonic=monotonic)
    return await run_check(snmp_type, {"port": port, **params}, ctx)


def fields(*oids: str, **limits: Any) -> dict[str, dict[str, Any]]:
    """One entry per OID, keyed F0, F1, ...; ``limits`` (min/max) apply to every entry."""
    return {f"F{index}": {"name": oid, **limits} for index, oid in enumerate(oids)}


# --- versions and credentials -------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1", "2c", 2])
async def test_community_versions(snmp_type: CheckType, snmp_agent: SnmpAgent, version: str | int) -> None:
    params = {"L": {"name": SYS_LOCATION}, "S": {"name": SYS_SERVICES, "min": 1, "max": 127}}
    result = await check(snmp_type, snmp_agent.port, fields=params, snmpv=version)
    assert (result.status, result.code, result.message) == ("up", "OK", OK)
    assert result.fieldtracking == {"L": snmp_agent.location, "S": float(snmp_agent.services)}


@pytest.mark.parametrize(
    "credentials",
    [
        {"snmpuser": "privuser", "snmpauthpass": AUTH_PASSWORD, "snmpprivpass": PRIV_PASSWORD},
        {
            "snmpuser": "strong",
            "snmpauthprot": "SHA-512",
            "snmpauthpass": AUTH_PASSWORD,
            "snmpprivprot": "aes256",
            "snmpprivpass": PRIV_PASSWORD,
        },
        {"snmpuser": "authuser", "snmpauthprot": "MD5", "snmpauthpass": AUTH_PASSWORD},
        {"snmpuser": "plainuser"},
    ],
    ids=["authPriv-SHA-AES", "authPriv-SHA512-AES256", "authNoPriv-MD5", "noAuthNoPriv"],
)
async def test_v3_security_levels(
    snmp_type: CheckType, snmp_agent: SnmpAgent, credentials: dict[str, Any]
) -> None:
    result = await check(snmp_type, snmp_agent.port, fields=fields(SYS_CONTACT), snmpv="3", **credentials)
    assert (result.status, result.code, result.message) == ("up", "OK", OK)
    assert result.fieldtracking == {"F0": snmp_agent.contact}


async def test_wrong_community_gets_no_answer(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    result = await check(
        snmp_type, snmp_agent.port, fields=fields(SYS_LOCATION), snmpv="2c", snmpcom="private", deadline=0.5
    )
    assert (result.status, result.code, result.message) == ("down", "Timeout", "Timeout")


async def test_v3_wrong_auth_password(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    params: dict[str, Any] = {
        "snmpuser": "privuser",
        "snmpauthpass": "wrong-auth-pw",
        "snmpprivpass": PRIV_PASSWORD,
    }
    result = await check(snmp_type, snmp_agent.port, fields=fields(SYS_CONTACT), snmpv="3", **params)
    assert (result.status, result.code, result.message) == ("down", "Error", "Wrong SNMP PDU digest")


async def test_v3_wrong_privacy_password_gets_no_answer(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    # The agent cannot decrypt the request and drops it.
    params: dict[str, Any] = {
        "snmpuser": "privuser",
        "snmpauthpass": AUTH_PASSWORD,
        "snmpprivpass": "wrong-priv-pw",
    }
    result = await check(
        snmp_type, snmp_agent.port, fields=fields(SYS_CONTACT), snmpv="3", deadline=0.5, **params
    )
    assert (result.status, result.code, result.message) == ("down", "Timeout", "Timeout")


async def test_v3_unknown_user(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    params: dict[str, Any] = {
        "snmpuser": "nobody",
        "snmpauthpass": AUTH_PASSWORD,
        "snmpprivpass": PRIV_PASSWORD,
    }
    result = await check(snmp_type, snmp_agent.port, fields=fields(SYS_CONTACT), snmpv="3", **params)
    assert (result.status, result.code, result.message) == ("down", "Error", "Unknown USM user")


async def test_v3_security_level_below_the_users(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    # privuser may only read with authPriv; a noAuthNoPriv request is refused by the agent's access control.
    result = await check(
        snmp_type, snmp_agent.port, fields=fields(SYS_CONTACT), snmpv="3", snmpuser="privuser"
    )
    assert (result.status, result.code, result.message) == ("down", "Error", "SNMP error: authorizationError")


# --- fields -------------------------------------------------------------------------------------


async def test_value_above_max_and_below_min(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    params = {"HI": {"name": SYS_SERVICES, "max": 10}, "LO": {"name": SYS_SERVICES, "min": "100"}}
    result = await check(snmp_type, snmp_agent.port, fields=params, snmpv="2c")
    assert (result.status, result.code) == ("down", "Fail")
    assert result.message == f"{SYS_SERVICES}:72 (max 10). {SYS_SERVICES}:72 (min 100)"
    assert result.fieldtracking == {"HI": 72.0, "LO": 72.0}


async def test_numeric_text_compares_as_a_number(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    # sysName is an OCTET STRING ("42"); min/max compare it numerically.
    result = await check(snmp_type, snmp_agent.port, fields=fields(SYS_NAME, min=40, max=50), snmpv="2c")
    assert (result.status, result.message, result.fieldtracking) == ("up", OK, {"F0": 42.0})


async def test_text_against_min_fails(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    result = await check(snmp_type, snmp_agent.port, fields=fields(SYS_LOCATION, min=1), snmpv="2c")
    assert (result.status, result.message) == ("down", f"{SYS_LOCATION}:test-lab (min 1)")


async def test_counters_and_object_identifiers(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    params = {"UP": {"name": SYS_UPTIME, "min": 0}, "ID": {"name": SYS_OBJECT_ID}}
    result = await check(snmp_type, snmp_agent.port, fields=params, snmpv="2c")
    assert (result.status, result.message) == ("up", OK)
    assert result.fieldtracking is not None
    assert isinstance(result.fieldtracking["UP"], float)
    assert result.fieldtracking["ID"] == "1.3.6.1.4.1.8072.3.2.10"  # net-snmp on Linux


async def test_absent_oid_v2c(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    result = await check(snmp_type, snmp_agent.port, fields=fields(SYS_LOCATION, MISSING_OID), snmpv="2c")
    assert (result.status, result.code, result.message) == ("down", "Fail", f"{MISSING_OID}: absent")
    assert result.fieldtracking == {"F0": "test-lab"}


async def test_absent_oid_v1(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    # SNMPv1 answers the whole request with noSuchName and the index of the missing OID.
    result = await check(snmp_type, snmp_agent.port, fields=fields(SYS_LOCATION, MISSING_OID), snmpv="1")
    assert (result.status, result.code, result.message) == ("down", "Fail", f"{MISSING_OID}: absent")


async def test_oid_with_a_leading_dot(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    result = await check(snmp_type, snmp_agent.port, fields=fields(f".{SYS_SERVICES}", max=1), snmpv="2c")
    assert (result.status, result.message) == ("down", f".{SYS_SERVICES}:72 (max 1)")


# --- no answer, no data, slow answer ------------------------------------------------------------


async def test_no_agent_on_the_port(snmp_type: CheckType) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await check(snmp_type, port, fields=fields(SYS_LOCATION), snmpv="2c", deadline=0.5)
    assert (result.status, result.code, result.message) == ("down", "Timeout", "Timeout")
    assert result.duration_ms < 2000


class _EmptyAgent(asyncio.DatagramProtocol):
    """Answers every request with a response PDU that carries no variable bindings."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        from pyasn1.codec.ber import decoder, encoder
        from pysnmp.proto import api

        module = api.PROTOCOL_MODULES[int(api.decodeMessageVersion(data))]
        request, _ = decoder.decode(data, asn1Spec=module.Message())
        response = module.apiMessage.get_response(request)
        module.apiPDU.set_varbinds(module.apiMessage.get_pdu(response), [])
        self.transport.sendto(encoder.encode(response), addr)


@pytest_asyncio.fixture(loop_scope="function")
async def empty_agent() -> AsyncIterator[int]:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        _EmptyAgent, local_addr=("127.0.0.1", 0)
    )
    try:
        yield transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


@pytest.mark.parametrize("version", ["1", "2c"])
async def test_response_without_data(snmp_type: CheckType, empty_agent: int, version: str) -> None:
    result = await check(snmp_type, empty_agent, fields=fields(SYS_LOCATION), snmpv=version)
    assert (result.status, result.code, result.message) == ("down", "error", "No snmp information received.")


async def test_answer_after_the_threshold(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    clock = itertools.count(0.0, 3.0)  # every reading 3 s later than the previous one
    result = await check(
        snmp_type,
        snmp_agent.port,
        fields=fields(SYS_LOCATION),
        snmpv="2c",
        threshold=2,
        monotonic=lambda: next(clock),
    )
    assert (result.status, result.code) == ("down", "Timeout")
    assert result.message == "Response received but took longer than the configured timeout of 2000"


# --- targets and configuration errors ---------------------------------------------------------------


async def test_host_name_target(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    result = await check(
        snmp_type, snmp_agent.port, target="localhost", fields=fields(SYS_LOCATION), snmpv="2c"
    )
    assert (result.status, result.message) == ("up", OK)


async def test_ipv6_will_not_use_an_ipv4_literal(snmp_type: CheckType, snmp_agent: SnmpAgent) -> None:
    result = await check(snmp_type, snmp_agent.port, fields=fields(SYS_LOCATION), ipv6=True)
    assert (result.status, result.code, result.message) == (
        "down",
        "Error",
        "No addresses found for 127.0.0.1",
    )


async def test_unresolvable_host(snmp_type: CheckType) -> None:
    result = await check(snmp_type, 161, target="no-such-host.invalid", fields=fields(SYS_LOCATION))
    assert (result.status, result.code) == ("down", "Error")
    assert "no-such-host.invalid" in result.message


@pytest.mark.parametrize(
    ("target", "params", "message"),
    [
        ("", {"fields": fields(SYS_LOCATION)}, "Missing snmp hostname or ip"),
        (
            "127.0.0.1",
            {"fields": fields("SNMPv2-MIB::sysDescr.0")},
            "Invalid OID: SNMPv2-MIB::sysDescr.0 (use the numeric form, e.g. 1.3.6.1.2.1.1.3.0)",
        ),
        (
            "127.0.0.1",
            {"fields": fields("1")},
            "Invalid OID: 1 (use the numeric form, e.g. 1.3.6.1.2.1.1.3.0)",
        ),
        (
            "127.0.0.1",
            {"fields": {}},
            "Missing fields to parse",
        ),
    ],
)
async def test_configuration_errors(
    snmp_type: CheckType, target: str, params: dict[str, Any], message: str
) -> None:
    result = await check(snmp_type, 161, target=target, **params)
    expect_config_error(result, message)


async def test_without_pysnmp(snmp_type: CheckType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pysnmp.hlapi.v3arch.asyncio", None)  # makes the import fail
    result = await check(snmp_type, 161, fields=fields(SYS_LOCATION))
    assert (result.message, result.config_error) == (
        "SNMP checks need the snmp extra: pip install 'vedette[snmp]'",
        True,
    )


def test_the_registry_loads_without_importing_pysnmp() -> None:
    code = "import sys, checktypes.snmp; print(sorted(m for m in sys.modules if m.startswith('pysnmp')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- parameters ---------------------------------------------------------------------------------

FIELDS = fields(SYS_LOCATION)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"fields": FIELDS},
            {
                "snmpv": "1",
                "snmpcom": "public",
                "snmpuser": None,
                "snmpauthprot": "SHA",
                "snmpauthpass": None,
                "snmpprivprot": "AES",
                "snmpprivpass": None,
            },
        ),
        ({"fields": FIELDS, "snmpv": "v3", "snmpuser": "u"}, {"snmpv": "3", "snmpuser": "u"}),
        (
            {
                "fields": FIELDS,
                "snmpv": 3,
                "snmpuser": "u",
                "snmpauthprot": "sha-256",
                "snmpauthpass": 12345678,
            },
            {"snmpauthprot": "SHA256", "snmpauthpass": "12345678"},
        ),
        (
            {"fields": FIELDS, "snmpauthprot": "SHA1", "snmpprivprot": "AES-128", "snmpprivpass": ""},
            {"snmpauthprot": "SHA", "snmpprivprot": "AES", "snmpprivpass": None},
        ),
        ({"fields": FIELDS, "snmpprivprot": "aes192c"}, {"snmpprivprot": "AES192C"}),
    ],
)
def test_valid_params(snmp_type: CheckType, params: dict[str, Any], expected: dict[str, Any]) -> None:
    dumped = snmp_type.params.model_validate(params).model_dump()
    assert {key: dumped[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fields": FIELDS, "snmpv": "3"}, "snmpuser: Value error, required when snmpv is 3"),
        ({"fields": FIELDS, "snmpv": "3", "snmpuser": ""}, "snmpuser: Value error, required when snmpv is 3"),
        (
            {"fields": FIELDS, "snmpauthpass": "short"},
            "snmpauthpass: String should have at least 8 characters",
        ),
        (
            {"fields": FIELDS, "snmpprivpass": PRIV_PASSWORD},
            "snmpprivpass: Value error, privacy needs authentication: set snmpauthpass too",
        ),
        (
            {"fields": FIELDS, "snmpauthprot": "SHA3"},
            "snmpauthprot: Input should be 'MD5', 'SHA', 'SHA224', 'SHA256', 'SHA384' or 'SHA512'",
        ),
        (
            {"fields": FIELDS, "snmpprivprot": "blowfish"},
            "snmpprivprot: Input should be 'DES', '3DES', 'AES', 'AES192', 'AES256', 'AES192C' or 'AES256C'",
        ),
    ],
)
def test_invalid_params(snmp_type: CheckType, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        snmp_type.params.model_validate(params)
    assert validation_message(caught.value) == message


def test_passwords_are_secret(snmp_type: CheckType) -> None:
    assert snmp_type.params.SECRET_FIELDS == frozenset({"snmpcom", "snmpauthpass", "snmpprivpass"})
