"""SNMP: one GET for the configured OIDs, each tested against min/max."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from checktypes._common import FieldsMap, reject_match
from checktypes._fields import evaluate_fields
from checktypes._net import resolution_message
from prober.base import (
    BoolIsh,
    CheckContext,
    CheckParams,
    CheckResult,
    ConfigError,
    FieldSpec,
    Port,
    StrIsh,
    coerce_str,
)

if TYPE_CHECKING:
    from pysnmp.hlapi.v3arch.asyncio import CommunityData, SnmpEngine, UsmUserData

NAME = "SNMP"

NO_DATA = "No snmp information received."
EXTRA = "snmp"

_VERSIONS = {"1": "1", "v1": "1", "2": "2c", "2c": "2c", "v2c": "2c", "3": "3", "v3": "3"}
_OID = re.compile(r"\.?[0-9]+(?:\.[0-9]+)+")


def _password(value: Any) -> Any:
    return None if value == "" else coerce_str(value)


_PROTOCOL_ALIASES = {"SHA1": "SHA", "AES128": "AES"}


def _protocol(value: Any) -> Any:
    """Case-insensitive; net-snmp spellings ``SHA-256``, ``AES-128``, ``SHA1`` are accepted."""
    if isinstance(value, str):
        value = value.strip().upper().replace("-", "")
        return _PROTOCOL_ALIASES.get(value, value)
    return value


# USM passwords shorter than 8 characters are refused by RFC 3414 agents (and by pysnmp).
UsmPassword = Annotated[Annotated[str, Field(min_length=8)] | None, BeforeValidator(_password)]

AuthProtocol = Literal["MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"]
PrivProtocol = Literal["DES", "3DES", "AES", "AES192", "AES256", "AES192C", "AES256C"]
"""As net-snmp names them: AES192/AES256 extend keys per Blumenthal, the C variants per Reeder (Cisco)."""


def _snmp_version(value: Any) -> Any:
    # nodeping-api sends the integer 1.
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, str):
        return _VERSIONS.get(value.strip().lower(), value)
    return value


class Params(CheckParams):
    SECRET_FIELDS = frozenset({"snmpcom", "snmpauthpass", "snmpprivpass"})  # the community is a password too

    fields: FieldsMap | None = None
    """OIDs to read (``name`` = the OID) and test against ``min``/``max``. Optional when the check is stored
    (nodeping-api sends ``fields: ""`` by default); a run without any is a configuration error."""
    snmpv: Annotated[Literal["1", "2c", "3"], BeforeValidator(_snmp_version)] = "1"
    snmpcom: StrIsh = "public"
    """The community string (versions 1 and 2c)."""
    port: Port = 161
    ipv6: BoolIsh = False
    # SNMPv3 (USM). The security level follows from the passwords given: none = noAuthNoPriv,
    # snmpauthpass = authNoPriv, both = authPriv.
    snmpuser: StrIsh | None = None
    """USM user name; required when ``snmpv`` is 3."""
    snmpauthprot: Annotated[AuthProtocol, BeforeValidator(_protocol)] = "SHA"
    snmpauthpass: UsmPassword = None
    snmpprivprot: Annotated[PrivProtocol, BeforeValidator(_protocol)] = "AES"
    snmpprivpass: UsmPassword = None

    @field_validator("fields")
    @classmethod
    def _no_match(cls, value: dict[str, FieldSpec] | None) -> dict[str, FieldSpec] | None:
        return reject_match(value) or None

    @field_validator("snmpuser")
    @classmethod
    def _v3_needs_user(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value and info.data.get("snmpv") == "3":
            raise ValueError("required when snmpv is 3")
        return value or None

    @field_validator("snmpprivpass")
    @classmethod
    def _privacy_needs_authentication(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("snmpauthpass") is None:
            raise ValueError("privacy needs authentication: set snmpauthpass too")
        return value


async def run(params: Params, ctx: CheckContext) -> CheckResult:
    if not params.fields:
        raise ConfigError("Missing fields to parse")
    try:
        from pysnmp.hlapi.v3arch.asyncio import (
            ContextData,
            ObjectIdentity,
            ObjectType,
            Udp6TransportTarget,
            UdpTransportTarget,
            get_cmd,
        )
        from pysnmp.proto.errind import RequestTimedOut
    except ImportError:
        raise ConfigError(f"{NAME} checks need the {EXTRA} extra: pip install 'vedette[{EXTRA}]'") from None
    host = ctx.target.strip().strip("[]")
    if not host:
        raise ConfigError("Missing snmp hostname or ip")
    fields = params.fields
    oids = {spec.name: _oid(spec.name) for spec in fields.values()}
    try:
        family, address = await _resolve(host, params.ipv6)
    except OSError as exc:
        return CheckResult.down("Error", resolution_message(host, exc))
    credentials = _credentials(params)
    clock = ctx.monotonic or time.monotonic
    started = clock()
    # Building an engine loads pysnmp's MIB modules from disk (~0.1 s of blocking work): not in the loop.
    engine = await asyncio.to_thread(_engine)
    try:
        target_class = Udp6TransportTarget if family == socket.AF_INET6 else UdpTransportTarget
        # No retries (rechecks are the pipeline's). The runner cancels at ctx.timeout; this is a backstop.
        transport = await target_class.create((address, params.port), timeout=ctx.timeout, retries=0)
        error_indication, error_status, error_index, var_binds = await get_cmd(
            engine,
            credentials,
            transport,
            ContextData(),
            *(ObjectType(ObjectIdentity(oid)) for oid in dict.fromkeys(oids.values())),
            lookupMib=False,
        )
    finally:
        engine.close_dispatcher()
    if error_indication:
        if isinstance(error_indication, RequestTimedOut):
            return CheckResult.down("Timeout", "Timeout")
        return CheckResult.down("Error", str(error_indication))
    elapsed = clock() - started
    if elapsed > ctx.threshold:
        limit_ms = int(min(ctx.threshold, 90) * 1000)
        return CheckResult.down(
            "Timeout", f"Response received but took longer than the configured timeout of {limit_ms}"
        )
    if int(error_status):
        return _pdu_error(fields, oids, error_status.prettyPrint(), _failed_oid(var_binds, int(error_index)))
    if not var_binds:
        return CheckResult.down("error", NO_DATA)
    values = _values(var_binds)
    found = {name: values[oid] for name, oid in oids.items() if oid in values}
    return evaluate_fields(fields, found, absent_sep=": ")


def _pdu_error(fields: FieldsMap, oids: dict[str, str], status: str, failed: str | None) -> CheckResult:
    if status == "noSuchName" and failed is not None:
        # SNMPv1 names one missing OID for the whole request: that OID is absent, the others unknown.
        missing = {key: spec for key, spec in fields.items() if oids[spec.name] == failed}
        return evaluate_fields(missing, {}, absent_sep=": ")
    return CheckResult.down("Error", f"SNMP error: {status}" + (f" at {failed}" if failed else ""))


def _oid(name: str) -> str:
    if not _OID.fullmatch(name.strip()):
        raise ConfigError(f"Invalid OID: {name} (use the numeric form, e.g. 1.3.6.1.2.1.1.3.0)")
    return name.strip().lstrip(".")


async def _resolve(host: str, ipv6: bool) -> tuple[socket.AddressFamily, str]:
    """AAAA only with ``ipv6``; otherwise A first, AAAA when there is none (check-types.md §2.1)."""
    loop = asyncio.get_running_loop()
    families = (socket.AF_INET6,) if ipv6 else (socket.AF_INET, socket.AF_INET6)
    error: OSError | None = None
    for family in families:
        try:
            infos = await loop.getaddrinfo(host, None, family=family, type=socket.SOCK_DGRAM)
        except socket.gaierror as exc:
            error = error or exc
            continue
        if infos:
            return family, str(infos[0][4][0])
    raise error or socket.gaierror(socket.EAI_NONAME, "no address")


def _engine() -> SnmpEngine:
    from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

    return SnmpEngine()


def _credentials(params: Params) -> CommunityData | UsmUserData:
    from pysnmp.hlapi.v3arch import asyncio as hlapi

    if params.snmpv != "3":
        return hlapi.CommunityData(params.snmpcom, mpModel=0 if params.snmpv == "1" else 1)
    auth_protocols = {
        "MD5": hlapi.USM_AUTH_HMAC96_MD5,
        "SHA": hlapi.USM_AUTH_HMAC96_SHA,
        "SHA224": hlapi.USM_AUTH_HMAC128_SHA224,
        "SHA256": hlapi.USM_AUTH_HMAC192_SHA256,
        "SHA384": hlapi.USM_AUTH_HMAC256_SHA384,
        "SHA512": hlapi.USM_AUTH_HMAC384_SHA512,
    }
    priv_protocols = {
        "DES": hlapi.USM_PRIV_CBC56_DES,
        "3DES": hlapi.USM_PRIV_CBC168_3DES,
        "AES": hlapi.USM_PRIV_CFB128_AES,
        "AES192": hlapi.USM_PRIV_CFB192_AES_BLUMENTHAL,
        "AES256": hlapi.USM_PRIV_CFB256_AES_BLUMENTHAL,
        "AES192C": hlapi.USM_PRIV_CFB192_AES,
        "AES256C": hlapi.USM_PRIV_CFB256_AES,
    }
    has_auth, has_priv = params.snmpauthpass is not None, params.snmpprivpass is not None
    return hlapi.UsmUserData(
        params.snmpuser or "",
        authKey=params.snmpauthpass,
        privKey=params.snmpprivpass,
        authProtocol=auth_protocols[params.snmpauthprot] if has_auth else hlapi.USM_AUTH_NONE,
        privProtocol=priv_protocols[params.snmpprivprot] if has_priv else hlapi.USM_PRIV_NONE,
    )


def _values(var_binds: Any) -> dict[str, Any]:
    """OID -> a number or text; noSuchObject/noSuchInstance/endOfMibView leave the OID out (absent)."""
    from pysnmp.hlapi.v3arch import asyncio as hlapi

    numeric = (
        hlapi.Integer32,
        hlapi.Integer,
        hlapi.Unsigned32,
        hlapi.Counter32,
        hlapi.Counter64,
        hlapi.Gauge32,
        hlapi.TimeTicks,
    )
    missing = (hlapi.NoSuchObject, hlapi.NoSuchInstance, hlapi.EndOfMibView, hlapi.Null)
    values: dict[str, Any] = {}
    for name, value in var_binds:
        oid = str(name)
        if isinstance(value, missing):
            continue
        if isinstance(value, numeric):
            values[oid] = int(value)
        elif isinstance(value, hlapi.OctetString) and not isinstance(value, hlapi.IpAddress | hlapi.Bits):
            try:
                values[oid] = bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                values[oid] = value.prettyPrint()
        else:
            values[oid] = value.prettyPrint()
    return values


def _failed_oid(var_binds: Any, error_index: int) -> str | None:
    if 0 < error_index <= len(var_binds):
        return str(var_binds[error_index - 1][0])
    return None
