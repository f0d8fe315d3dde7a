"""Parameter models of the built-in check types (all but HTTP and PORT).

Table driven: for every type, the payload ``nodeping-api`` 1.8.0 sends on create (check-types.md §5) must
validate once the controller has dropped the empty values and the common fields; valid payloads normalise
as asserted; invalid payloads fail with the exact message ``prober.runner.validation_message`` produces.
"""

from __future__ import annotations

import asyncio
import importlib
from types import ModuleType
from typing import Any

import pytest
from pydantic import ValidationError

from prober.base import CheckContext, CheckParams
from prober.registry import BUILTIN_CHECKTYPES, check_type_from_module
from prober.runner import validation_message

TYPES = (
    "agent",
    "audio",
    "cluster",
    "dns",
    "dohdot",
    "ftp",
    "httpadv",
    "httpcontent",
    "httpparse",
    "imap4",
    "mongodb",
    "mtr",
    "mysql",
    "ntp",
    "pgsql",
    "ping",
    "pop3",
    "push",
    "rbl",
    "rdp",
    "redis",
    "sip",
    "smtp",
    "snmp",
    "spec10dns",
    "spec10rdds",
    "ssh",
    "ssl",
    "websocket",
    "whois",
)

COMMON_FIELDS = frozenset(
    {
        "type",
        "target",
        "label",
        "interval",
        "enabled",
        "public",
        "runlocations",
        "homeloc",
        "threshold",
        "sens",
        "mute",
        "dep",
        "notifications",
        "autodiag",
        "description",
        "tags",
    }
)

# What every nodeping-api ``*_check`` function sends besides its own arguments (check-types.md §5).
NODEPING_API_COMMON: dict[str, Any] = {
    "label": "",
    "autodiag": False,
    "interval": 15,
    "enabled": False,
    "public": False,
    "runlocations": None,
    "homeloc": False,
    "threshold": 5,
    "sens": 2,
    "mute": False,
    "dep": "",
    "notifications": "",
}

FIELDS = {"KEY1": {"name": "processmem.rss", "min": 10000000, "max": "999999999"}}
MEMBERS = {"201205050153W2Q4C-0J2HSIRF": "1", "201205050153W2Q4C-4RZT8MLN": "1"}

# type -> (the type-specific arguments nodeping-api sends, the normalised values they must give).
# Required arguments of the client function (target, data, dnstoresolve, redistype) get a realistic value.
NODEPING_API_DEFAULTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "agent": (
        {"interval": 1, "oldresultfail": False},
        {"checktoken": None, "oldresultfail": False},
    ),
    "audio": (
        {"target": "https://radio.example/stream", "verifyvolume": False, "volumemin": -45},
        {"verifyvolume": False, "volumemin": -45},
    ),
    "cluster": ({"data": MEMBERS}, {"data": MEMBERS}),
    "dns": (
        {
            "target": "",
            "port": 53,
            "transport": "udp",
            "dnstype": "A",
            "dnsrd": 1,
            "dnssection": "answer",
            "contentstring": "",
            "dnstoresolve": "",
            "verify": False,
        },
        {
            "port": 53,
            "transport": "udp",
            "dnstype": "A",
            "dnsrd": True,
            "dnssection": "answer",
            "contentstring": None,
            "dnstoresolve": None,
            "verify": False,
        },
    ),
    "dohdot": (
        {
            "target": "https://dns.example/dns-query",
            "dnstoresolve": "example.com",
            "dohdot": "doh",
            "method": "GET",
            "statuscode": "200",
            "sendheaders": {},
            "clientcert": "",
            "verify": False,
            "dnstype": "A",
            "contentstring": "",
            "edns": {},
            "ipv6": False,
        },
        {
            "dnstoresolve": "example.com",
            "dohdot": "doh",
            "method": "GET",
            "statuscode": 200,
            "sendheaders": None,
            "edns": None,
            "verify": False,
            "dnstype": "A",
        },
    ),
    "ftp": (
        {
            "target": "ftp.example.com",
            "port": 21,
            "username": "",
            "password": "",
            "invert": False,
            "contentstring": "",
        },
        {"port": 21, "username": None, "password": None, "invert": False, "contentstring": None},
    ),
    "httpadv": (
        {
            "target": "https://example.com/",
            "invert": False,
            "contentstring": "",
            "data": "",
            "clientcert": "",
            "method": "",
            "postdata": "",
            "receiveheaders": "",
            "sendheaders": "",
            "statuscode": 200,
            "ipv6": False,
            "follow": False,
        },
        {"method": "GET", "statuscode": 200, "data": None, "sendheaders": None, "follow": False},
    ),
    "httpcontent": (
        {
            "target": "https://example.com/",
            "invert": False,
            "contentstring": "",
            "ipv6": False,
            "follow": False,
        },
        {"invert": False, "contentstring": None, "regex": False, "follow": False},
    ),
    "httpparse": (
        {"target": "https://example.com/stats.json", "fields": FIELDS, "sendheaders": {}},
        {"fields": {"KEY1": {"name": "processmem.rss", "min": 1e7, "max": 999999999.0, "match": None}}},
    ),
    "imap4": (
        {
            "target": "imap.example.com",
            "port": 143,
            "verify": True,
            "email": "",
            "username": "",
            "password": "",
            "secure": False,
            "warningdays": "",
        },
        {"port": 143, "verify": True, "secure": False, "warningdays": None},
    ),
    "mongodb": (
        {
            "target": "mongodb://db.example.com/",
            "query": "",
            "fields": None,
            "database": "",
            "namespace": "",
        },
        {"query": None, "fields": None, "database": None, "namespace": None},
    ),
    "mtr": ({"target": "example.com", "ipv6": False}, {"ipv6": False}),
    "mysql": (
        {
            "target": "db.example.com",
            "port": 3306,
            "username": None,
            "password": None,
            "secure": False,
            "ipv6": False,
            "database": None,
            "query": None,
            "fields": None,
        },
        {"port": 3306, "secure": False, "query": None, "fields": None},
    ),
    "ntp": ({"target": "pool.ntp.org", "invert": False, "port": 123}, {"port": 123, "invert": False}),
    "pgsql": (
        {"target": "postgres://u:p@db.example.com/app", "query": None, "fields": None},
        {"query": None, "fields": None, "verify": False},
    ),
    "ping": ({"target": "example.com", "ipv6": False}, {"ipv6": False}),
    "pop3": (
        {
            "target": "pop.example.com",
            "port": "",
            "verify": True,
            "email": "",
            "username": "",
            "password": "",
            "secure": False,
            "warningdays": "",
        },
        {"port": 110, "verify": True, "secure": False},
    ),
    "push": (
        {"checktoken": "reset", "fields": "", "oldresultfail": False},
        {"checktoken": "reset", "fields": None, "oldresultfail": False},
    ),
    "rbl": ({"target": "mail.example.com", "ignore": ""}, {"ignore": None, "ipv6": False}),
    "rdp": ({"target": "rdp.example.com"}, {}),
    "redis": (
        {
            "target": "redis://:secret@cache.example.com:6379/0",
            "redistype": "standalone",
            "hosts": [],
            "sentinelname": None,
            "oldresultfail": False,
        },
        {"redistype": "standalone", "hosts": None, "sentinelname": None},
    ),
    "sip": ({"target": "sip.example.com", "transport": False}, {"transport": "udp", "ignore": None}),
    "smtp": (
        {
            "target": "mail.example.com",
            "invert": False,
            "port": 25,
            "verify": True,
            "email": "",
            "username": "",
            "password": "",
            "secure": False,
            "warningdays": "",
        },
        {"port": 25, "verify": True, "secure": False, "email": None, "warningdays": None},
    ),
    "snmp": (
        {"target": "switch.example.com", "port": 161, "fields": FIELDS, "snmpv": 1, "snmpcom": "public"},
        {"port": 161, "snmpv": "1", "snmpcom": "public"},
    ),
    "spec10dns": ({"data": MEMBERS}, {"data": MEMBERS}),
    "spec10rdds": ({"data": MEMBERS}, {"data": MEMBERS}),
    "ssh": (
        {
            "target": "ssh.example.com",
            "invert": False,
            "contentstring": "",
            "port": 22,
            "username": "",
            "password": "",
        },
        {"port": 22, "username": None, "sshkey": None, "invert": False},
    ),
    "ssl": (
        {"target": "https://example.com", "warningdays": "", "servername": ""},
        {"warningdays": None, "servername": None},
    ),
    "websocket": (
        {"target": "wss://ws.example.com/socket", "invert": False, "contentstring": "", "data": ""},
        {"data": None, "contentstring": None, "invert": False},
    ),
    "whois": (
        {
            "target": "example.com",
            "whoisserver": "",
            "ipv6": False,
            "invert": False,
            "contentstring": "",
            "warningdays": "",
        },
        {"whoisserver": None, "ipv6": False, "warningdays": None},
    ),
}

# (type, payload as the controller passes it, expected normalised values)
VALID: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    # AGENT
    ("agent", {}, {"checktoken": None, "oldresultfail": False}),
    (
        "agent",
        {"checktoken": "reset", "oldresultfail": "true"},
        {"checktoken": "reset", "oldresultfail": True},
    ),
    ("agent", {"oldresultfail": 1}, {"oldresultfail": True}),
    # AUDIO
    ("audio", {}, {"verifyvolume": False, "volumemin": -45}),
    ("audio", {"verifyvolume": "true", "volumemin": "-30"}, {"verifyvolume": True, "volumemin": -30}),
    ("audio", {"volume": -60}, {"volumemin": -60}),
    ("audio", {"volume": "-20", "volumemin": -10}, {"volumemin": -10}),
    ("audio", {"volumemin": -90}, {"volumemin": -90}),
    ("audio", {"volumemin": 0.0}, {"volumemin": 0}),
    # CLUSTER
    ("cluster", {"data": {"A": "1", "B": "0", "C": 1}}, {"data": {"A": "1", "C": "1"}}),
    ("cluster", {"data": {"A": True, "B": "false", "C": "true"}}, {"data": {"A": "1", "C": "1"}}),
    ("cluster", {"data": {"A": 1, "B": 0}}, {"data": {"A": "1"}}),
    # DNS
    ("dns", {}, {"dnstype": "A", "dnsrd": True, "port": 53, "transport": "udp", "dnssection": "answer"}),
    (
        "dns",
        {
            "dnstoresolve": "example.com",
            "dnstype": "mx",
            "contentstring": "mx1.example.com",
            "transport": "TCP",
        },
        {
            "dnstoresolve": "example.com",
            "dnstype": "MX",
            "contentstring": "mx1.example.com",
            "transport": "tcp",
        },
    ),
    (
        "dns",
        {"dnsrd": "false", "verify": "true", "port": "5353", "dnssection": "edns_options"},
        {"dnsrd": False, "verify": True, "port": 5353, "dnssection": "edns_options"},
    ),
    ("dns", {"dnstype": "TXT", "contentstring": 12345}, {"dnstype": "TXT", "contentstring": "12345"}),
    # DOHDOT
    (
        "dohdot",
        {"dohdot": "DoT", "dnstoresolve": "example.com", "dnstype": "aaaa"},
        {"dohdot": "dot", "dnstype": "AAAA", "method": "GET", "statuscode": 200},
    ),
    (
        "dohdot",
        {"method": "post", "statuscode": 204, "edns": {"65285": "494373709abcdef067678"}, "verify": "1"},
        {"method": "POST", "statuscode": 204, "edns": {"65285": "494373709abcdef067678"}, "verify": True},
    ),
    (
        "dohdot",
        {"sendheaders": {"Accept": "application/dns-message", "X-Num": 5}, "clientcert": "CERT1"},
        {"sendheaders": {"Accept": "application/dns-message", "X-Num": "5"}, "clientcert": "CERT1"},
    ),
    # FTP
    ("ftp", {}, {"port": 21, "invert": False, "contentstring": None}),
    (
        "ftp",
        {
            "port": "2121",
            "username": "bob",
            "password": 1234,
            "contentstring": "/pub/file.txt",
            "invert": "True",
        },
        {
            "port": 2121,
            "username": "bob",
            "password": "1234",
            "contentstring": "/pub/file.txt",
            "invert": True,
        },
    ),
    ("ftp", {"conteststring": "readme.txt"}, {"contentstring": "readme.txt"}),
    ("ftp", {}, {"secure": False, "verify": True}),
    ("ftp", {"secure": "true", "verify": "false"}, {"secure": "explicit", "verify": False, "port": 21}),
    ("ftp", {"secure": "implicit"}, {"secure": "implicit", "port": 990}),
    # HTTPADV
    ("httpadv", {}, {"method": "GET", "statuscode": None, "regex": False, "follow": False}),
    (
        "httpadv",
        {"method": "post", "data": {"a": "1", "n": 2}, "statuscode": "201", "sendheaders": {"X-A": "b"}},
        {"method": "POST", "data": {"a": "1", "n": "2"}, "statuscode": 201, "sendheaders": {"X-A": "b"}},
    ),
    (
        "httpadv",
        {"method": "Delete", "postdata": '{"x": 1}', "receiveheaders": {"content-type": "application/json"}},
        {"method": "DELETE", "postdata": '{"x": 1}', "receiveheaders": {"content-type": "application/json"}},
    ),
    (
        "httpadv",
        {"contentstring": "ok.*", "regex": 1, "invert": "false", "follow": "true", "ipv6": "0"},
        {"contentstring": "ok.*", "regex": True, "invert": False, "follow": True, "ipv6": False},
    ),
    ("httpadv", {"statuscode": 599, "clientcert": "C1"}, {"statuscode": 599, "clientcert": "C1"}),
    # HTTPCONTENT
    (
        "httpcontent",
        {},
        {"contentstring": None, "regex": False, "invert": False, "ipv6": False, "follow": False},
    ),
    (
        "httpcontent",
        {"contentstring": "Welcome", "invert": "true", "follow": 1},
        {"contentstring": "Welcome", "invert": True, "follow": True},
    ),
    ("httpcontent", {"contentstring": "^ok$", "regex": "1"}, {"contentstring": "^ok$", "regex": True}),
    # HTTPPARSE
    (
        "httpparse",
        {"fields": {"K": {"name": "a.b.0.c", "min": "0", "max": 10}}},
        {"fields": {"K": {"name": "a.b.0.c", "min": 0.0, "max": 10.0, "match": None}}, "sendheaders": None},
    ),
    (
        "httpparse",
        {"fields": {"K": {"name": "load", "min": ""}}, "sendheaders": {"Authorization": "Bearer x"}},
        {"fields": {"K": {"name": "load", "min": None, "max": None, "match": None}}},
    ),
    ("httpparse", {"fields": FIELDS, "ipv6": "true"}, {"ipv6": True}),
    # IMAP4
    ("imap4", {}, {"port": 143, "secure": False, "verify": True, "warningdays": None}),
    (
        "imap4",
        {"secure": "ssl", "port": "993", "username": "u", "password": "p", "warningdays": "14"},
        {"secure": "ssl", "port": 993, "username": "u", "password": "p", "warningdays": 14},
    ),
    ("imap4", {"secure": "true", "verify": "false"}, {"secure": "ssl", "verify": False}),
    ("imap4", {"secure": "false", "email": "me@example.com"}, {"secure": False}),
    # MONGODB
    ("mongodb", {}, {"database": None, "namespace": None, "query": None, "fields": None}),
    (
        "mongodb",
        {"database": "app", "namespace": "users", "query": '{"active": true}'},
        {"database": "app", "namespace": "users", "query": '{"active": true}'},
    ),
    (
        "mongodb",
        {"fields": {"F": {"name": "status", "match": "^ok"}}, "queryoptions": '{"limit": 1}'},
        {"fields": {"F": {"name": "status", "min": None, "max": None, "match": "^ok"}}},
    ),
    # MTR
    ("mtr", {}, {"ipv6": False}),
    ("mtr", {"ipv6": "true"}, {"ipv6": True}),
    # MYSQL
    ("mysql", {}, {"port": 3306, "secure": False, "ipv6": False, "query": None}),
    (
        "mysql",
        {"database": "app", "query": "SELECT COUNT(*) AS n FROM t", "fields": {"N": {"name": "n", "min": 1}}},
        {"database": "app", "fields": {"N": {"name": "n", "min": 1.0, "max": None, "match": None}}},
    ),
    (
        "mysql",
        {"secure": "SSL", "port": 3307, "fields": {"V": {"name": "version", "match": "^8\\."}}},
        {
            "secure": "ssl",
            "port": 3307,
            "fields": {"V": {"name": "version", "min": None, "max": None, "match": "^8\\."}},
        },
    ),
    ("mysql", {"secure": True, "username": 42}, {"secure": "ssl", "username": "42"}),
    # NTP
    ("ntp", {}, {"port": 123, "invert": False}),
    ("ntp", {"port": "1123", "invert": "true"}, {"port": 1123, "invert": True}),
    # PGSQL
    ("pgsql", {}, {"query": None, "fields": None, "verify": False}),
    (
        "pgsql",
        {"query": "SELECT 1 AS one", "fields": {"O": {"name": "one", "min": 1, "max": 1}}, "verify": "true"},
        {"query": "SELECT 1 AS one", "verify": True},
    ),
    (
        "pgsql",
        {"fields": {"S": {"name": "state", "match": "idle"}}},
        {"fields": {"S": {"name": "state", "min": None, "max": None, "match": "idle"}}},
    ),
    # PING
    ("ping", {}, {"ipv6": False}),
    ("ping", {"ipv6": 1}, {"ipv6": True}),
    # POP3
    ("pop3", {}, {"port": 110, "secure": False, "verify": True}),
    (
        "pop3",
        {"port": 995, "secure": "tls", "username": "u", "password": "p", "warningdays": 0},
        {"port": 995, "secure": "ssl", "warningdays": 0},
    ),
    ("pop3", {"email": "ignored@example.com", "verify": "False"}, {"verify": False}),
    # PUSH
    ("push", {}, {"checktoken": None, "fields": None, "oldresultfail": False}),
    (
        "push",
        {"fields": {"L": {"name": "load.1min", "max": "4"}}, "oldresultfail": "true"},
        {
            "fields": {"L": {"name": "load.1min", "min": None, "max": 4.0, "match": None}},
            "oldresultfail": True,
        },
    ),
    ("push", {"checktoken": "reset"}, {"checktoken": "reset"}),
    # RBL
    ("rbl", {}, {"ignore": None, "ipv6": False}),
    (
        "rbl",
        {"ignore": "zen.spamhaus.org,bl.spamcop.net", "ipv6": "true"},
        {"ignore": "zen.spamhaus.org,bl.spamcop.net", "ipv6": True},
    ),
    # RDP
    ("rdp", {}, {}),
    # REDIS
    ("redis", {}, {"redistype": "standalone", "hosts": None, "sentinelname": None, "oldresultfail": False}),
    (
        "redis",
        {
            "redistype": "Sentinel",
            "sentinelname": "mymaster",
            "hosts": {"HSGWNS": {"host": "s1.example.com", "port": "26379", "password": "pw"}},
        },
        {
            "redistype": "sentinel",
            "sentinelname": "mymaster",
            "hosts": {"HSGWNS": {"host": "s1.example.com", "port": 26379, "password": "pw"}},
        },
    ),
    (
        "redis",
        {"redistype": "cluster", "hosts": [{"host": "n1"}, {"host": "n2", "port": 7001}]},
        {
            "redistype": "cluster",
            "hosts": {
                "0": {"host": "n1", "port": 6379, "password": None},
                "1": {"host": "n2", "port": 7001, "password": None},
            },
        },
    ),
    ("redis", {"query": "PING", "oldresultfail": 1}, {"query": "PING", "oldresultfail": True}),
    ("redis", {"query": "PING", "contentstring": "PONG"}, {"query": "PING", "contentstring": "PONG"}),
    # SIP
    ("sip", {}, {"transport": "udp", "ignore": None}),
    ("sip", {"transport": "TLS", "ignore": "503, 504"}, {"transport": "tls", "ignore": "503,504"}),
    ("sip", {"transport": "false", "ignore": 503}, {"transport": "udp", "ignore": "503"}),
    ("sip", {"transport": "wss"}, {"transport": "wss"}),
    # SMTP
    ("smtp", {}, {"port": 25, "secure": False, "verify": True, "invert": False}),
    ("smtp", {"secure": "starttls", "port": "587"}, {"secure": "starttls", "port": 587}),
    (
        "smtp",
        {"secure": "TLS", "port": 465, "verify": "false"},
        {"secure": "ssl", "port": 465, "verify": False},
    ),
    (
        "smtp",
        {
            "username": "u",
            "password": "p",
            "email": "postmaster@example.com",
            "invert": "1",
            "warningdays": "30",
        },
        {"email": "postmaster@example.com", "invert": True, "warningdays": 30},
    ),
    # SNMP
    (
        "snmp",
        {"fields": {"U": {"name": "1.3.6.1.2.1.1.3.0", "min": 100}}},
        {"snmpv": "1", "snmpcom": "public", "port": 161},
    ),
    ("snmp", {"fields": FIELDS, "snmpv": 2, "snmpcom": "private"}, {"snmpv": "2c", "snmpcom": "private"}),
    ("snmp", {"fields": FIELDS, "snmpv": "2C", "port": "1161"}, {"snmpv": "2c", "port": 1161}),
    ("snmp", {"fields": FIELDS, "snmpv": "3", "snmpuser": "monitor"}, {"snmpv": "3", "snmpuser": "monitor"}),
    (
        "snmp",
        {
            "fields": FIELDS,
            "snmpv": "v3",
            "snmpuser": "monitor",
            "snmpauthprot": "sha-256",
            "snmpauthpass": "authpass123",
            "snmpprivprot": "aes",
            "snmpprivpass": "privpass123",
        },
        {
            "snmpauthprot": "SHA256",
            "snmpauthpass": "authpass123",
            "snmpprivprot": "AES",
            "snmpprivpass": "privpass123",
        },
    ),
    # SPEC10DNS / SPEC10RDDS
    ("spec10dns", {"data": {"A": "1", "B": "0"}}, {"data": {"A": "1"}}),
    ("spec10dns", {"data": {"A": 1, "B": "true"}}, {"data": {"A": "1", "B": "1"}}),
    ("spec10rdds", {"data": {"A": "1", "B": 0}}, {"data": {"A": "1"}}),
    ("spec10rdds", {"data": {"A": True}}, {"data": {"A": "1"}}),
    # SSH
    ("ssh", {}, {"port": 22, "invert": False, "ipv6": False}),
    (
        "ssh",
        {"port": "2222", "username": "u", "sshkey": "ABCDE", "contentstring": "Welcome", "invert": "true"},
        {"port": 2222, "sshkey": "ABCDE", "contentstring": "Welcome", "invert": True},
    ),
    ("ssh", {"username": "u", "password": 123456}, {"password": "123456"}),
    ("ssh", {"hostkey": ""}, {"hostkey": None}),
    # SSL
    ("ssl", {}, {"warningdays": None, "servername": None}),
    (
        "ssl",
        {"warningdays": "21", "servername": "www.example.com"},
        {"warningdays": 21, "servername": "www.example.com"},
    ),
    ("ssl", {"warningdays": 0}, {"warningdays": 0}),
    # WEBSOCKET
    ("websocket", {}, {"data": None, "contentstring": None, "invert": False}),
    (
        "websocket",
        {"data": "ping", "contentstring": "pong", "invert": "false"},
        {"data": "ping", "contentstring": "pong", "invert": False},
    ),
    ("websocket", {"data": {"op": "hello"}}, {"data": '{"op":"hello"}'}),
    ("websocket", {"data": 42, "invert": 1}, {"data": "42", "invert": True}),
    # WHOIS
    ("whois", {}, {"whoisserver": None, "ipv6": False, "invert": False, "warningdays": None}),
    (
        "whois",
        {"whoisserver": "whois.verisign-grs.com", "warningdays": "30", "ipv6": "true"},
        {"whoisserver": "whois.verisign-grs.com", "warningdays": 30, "ipv6": True},
    ),
    ("whois", {"contentstring": "clientTransferProhibited", "invert": 1}, {"invert": True}),
]

# (type, payload, the exact validation_message)
INVALID: list[tuple[str, dict[str, Any], str]] = [
    # AGENT
    (
        "agent",
        {"oldresultfail": "maybe"},
        "oldresultfail: Input should be a valid boolean, unable to interpret input",
    ),
    ("agent", {"fields": FIELDS}, "fields: Extra inputs are not permitted"),
    ("agent", {"checktoken": ["a"]}, "checktoken: Input should be a valid string"),
    # AUDIO
    ("audio", {"volumemin": -91}, "volumemin: Input should be greater than or equal to -90"),
    ("audio", {"volumemin": "5"}, "volumemin: Input should be less than or equal to 0"),
    ("audio", {"volume": "-100"}, "volumemin: Input should be greater than or equal to -90"),
    (
        "audio",
        {"volumemin": "loud"},
        "volumemin: Input should be a valid integer, unable to parse string as an integer",
    ),
    (
        "audio",
        {"verifyvolume": "perhaps"},
        "verifyvolume: Input should be a valid boolean, unable to interpret input",
    ),
    # CLUSTER
    ("cluster", {}, "data: Field required"),
    (
        "cluster",
        {"data": {"A": "0"}},
        'data: Value error, must list at least one member check id with the value "1"',
    ),
    ("cluster", {"data": {"A": "2"}}, "data.A: Input should be '1' or '0'"),
    ("cluster", {"data": "A"}, "data: Input should be a valid dictionary"),
    ("cluster", {"data": MEMBERS, "port": 80}, "port: Extra inputs are not permitted"),
    # DNS
    (
        "dns",
        {"dnstype": "AXFR"},
        "dnstype: Input should be 'ANY', 'A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV' or 'TXT'",
    ),
    (
        "dns",
        {"dnssection": "Answer"},
        "dnssection: Input should be 'answer', 'authority', 'additional' or 'edns_options'",
    ),
    ("dns", {"transport": "tls"}, "transport: Input should be 'udp' or 'tcp'"),
    ("dns", {"port": 70000}, "port: Input should be less than or equal to 65535"),
    ("dns", {"dnsrd": "sometimes"}, "dnsrd: Input should be a valid boolean, unable to interpret input"),
    # DOHDOT
    ("dohdot", {"dohdot": "dnscrypt"}, "dohdot: Input should be 'doh' or 'dot'"),
    ("dohdot", {"method": "PUT"}, "method: Input should be 'GET' or 'POST'"),
    (
        "dohdot",
        {"statuscode": "abc"},
        "statuscode: Input should be a valid integer, unable to parse string as an integer",
    ),
    ("dohdot", {"statuscode": 600}, "statuscode: Input should be less than or equal to 599"),
    (
        "dohdot",
        {"edns": {"opt": "ab"}},
        "edns: Value error, option code 'opt' must be an integer between 1 and 65535",
    ),
    ("dohdot", {"edns": {"65285": "xyz"}}, "edns: Value error, option 65285 value must be hexadecimal"),
    (
        "dohdot",
        {"dnstype": "HINFO"},
        "dnstype: Input should be 'ANY', 'A', 'AAAA', 'CNAME', 'MX', 'NS', 'PTR', 'SOA', 'SRV' or 'TXT'",
    ),
    # FTP
    ("ftp", {"port": 0}, "port: Input should be greater than or equal to 1"),
    ("ftp", {"port": "ftp"}, "port: Input should be a valid integer, unable to parse string as an integer"),
    ("ftp", {"invert": "yes please"}, "invert: Input should be a valid boolean, unable to interpret input"),
    ("ftp", {"sshkey": "ABCDE"}, "sshkey: Extra inputs are not permitted"),
    ("ftp", {"secure": "sometimes"}, "secure: Input should be False, 'explicit' or 'implicit'"),
    ("ftp", {"username": "a\r\nDELE b"}, "username: Value error, must not contain line breaks"),
    # HTTPADV
    (
        "httpadv",
        {"method": "PATCH"},
        "method: Input should be 'GET', 'POST', 'PUT', 'HEAD', 'TRACE', 'CONNECT' or 'DELETE'",
    ),
    ("httpadv", {"statuscode": 99}, "statuscode: Input should be greater than or equal to 100"),
    ("httpadv", {"statuscode": "600"}, "statuscode: Input should be less than or equal to 599"),
    ("httpadv", {"data": "a=1"}, "data: Input should be a valid dictionary"),
    ("httpadv", {"sendheaders": {"X-A": ["b"]}}, "sendheaders.X-A: Input should be a valid string"),
    ("httpadv", {"regex": "regex"}, "regex: Input should be a valid boolean, unable to interpret input"),
    ("httpadv", {"port": 8080}, "port: Extra inputs are not permitted"),
    # HTTPCONTENT
    ("httpcontent", {"regex": "nope"}, "regex: Input should be a valid boolean, unable to interpret input"),
    ("httpcontent", {"method": "GET"}, "method: Extra inputs are not permitted"),
    ("httpcontent", {"contentstring": {"a": 1}}, "contentstring: Input should be a valid string"),
    # HTTPPARSE
    ("httpparse", {"fields": {"K": {"min": 1}}}, "fields.K.name: Field required"),
    (
        "httpparse",
        {"fields": {"K": {"name": "a", "min": "low"}}},
        "fields.K.min: Value error, must be a number",
    ),
    (
        "httpparse",
        {"fields": {"K": {"name": "a", "match": "x"}}},
        "fields: Value error, match is only supported by MYSQL, PGSQL and MONGODB checks (entry 'K')",
    ),
    (
        "httpparse",
        {"fields": {"K": {"name": "a", "mean": 1}}},
        "fields.K.mean: Extra inputs are not permitted",
    ),
    # IMAP4
    ("imap4", {"secure": "maybe"}, "secure: Input should be False, 'ssl' or 'starttls'"),
    ("imap4", {"warningdays": -1}, "warningdays: Input should be greater than or equal to 0"),
    (
        "imap4",
        {"warningdays": 1.5},
        "warningdays: Input should be a valid integer, got a number with a fractional part",
    ),
    ("imap4", {"port": 65536}, "port: Input should be less than or equal to 65535"),
    ("imap4", {"verify": "strict"}, "verify: Input should be a valid boolean, unable to interpret input"),
    # MONGODB
    ("mongodb", {"fields": {"F": {"name": ""}}}, "fields.F.name: String should have at least 1 character"),
    ("mongodb", {"fields": ["status"]}, "fields: Input should be a valid dictionary"),
    ("mongodb", {"port": 27017}, "port: Extra inputs are not permitted"),
    # MTR
    ("mtr", {"ipv6": "v6"}, "ipv6: Input should be a valid boolean, unable to interpret input"),
    ("mtr", {"port": 80}, "port: Extra inputs are not permitted"),
    # MYSQL
    ("mysql", {"port": -1}, "port: Input should be greater than or equal to 1"),
    ("mysql", {"secure": "required"}, "secure: Input should be False, 'ssl' or 'starttls'"),
    ("mysql", {"fields": {"N": {"name": "n", "max": "many"}}}, "fields.N.max: Value error, must be a number"),
    ("mysql", {"namespace": "c"}, "namespace: Extra inputs are not permitted"),
    # NTP
    ("ntp", {"port": 0}, "port: Input should be greater than or equal to 1"),
    ("ntp", {"port": "ntp"}, "port: Input should be a valid integer, unable to parse string as an integer"),
    ("ntp", {"invert": "inverse"}, "invert: Input should be a valid boolean, unable to interpret input"),
    # PGSQL
    ("pgsql", {"verify": "full"}, "verify: Input should be a valid boolean, unable to interpret input"),
    ("pgsql", {"fields": {"S": {"match": "idle"}}}, "fields.S.name: Field required"),
    ("pgsql", {"database": "app"}, "database: Extra inputs are not permitted"),
    # PING
    ("ping", {"ipv6": "both"}, "ipv6: Input should be a valid boolean, unable to interpret input"),
    ("ping", {"query": "SELECT 1"}, "query: Extra inputs are not permitted"),
    ("ping", {"fields": FIELDS}, "fields: Extra inputs are not permitted"),
    # POP3
    ("pop3", {"port": 100000}, "port: Input should be less than or equal to 65535"),
    ("pop3", {"secure": "imaps"}, "secure: Input should be False, 'ssl' or 'starttls'"),
    ("pop3", {"warningdays": "-5"}, "warningdays: Input should be greater than or equal to 0"),
    # PUSH
    (
        "push",
        {"fields": {"L": {"name": "load", "match": "x"}}},
        "fields: Value error, match is only supported by MYSQL, PGSQL and MONGODB checks (entry 'L')",
    ),
    ("push", {"fields": {"L": {"max": 4}}}, "fields.L.name: Field required"),
    (
        "push",
        {"oldresultfail": "old"},
        "oldresultfail: Input should be a valid boolean, unable to interpret input",
    ),
    # RBL
    ("rbl", {"ignore": ["zen.spamhaus.org"]}, "ignore: Input should be a valid string"),
    ("rbl", {"ipv6": "maybe"}, "ipv6: Input should be a valid boolean, unable to interpret input"),
    # RDP
    ("rdp", {"port": 3390}, "port: Extra inputs are not permitted"),
    ("rdp", {"ipv6": True}, "ipv6: Extra inputs are not permitted"),
    # REDIS
    ("redis", {"redistype": "replica"}, "redistype: Input should be 'standalone', 'sentinel' or 'cluster'"),
    ("redis", {"redistype": "sentinel"}, "sentinelname: Value error, required when redistype is sentinel"),
    ("redis", {"hosts": {"A": {"port": 6380}}}, "hosts.A.host: Field required"),
    (
        "redis",
        {"hosts": {"A": {"host": "h", "port": 0}}},
        "hosts.A.port: Input should be greater than or equal to 1",
    ),
    ("redis", {"hosts": {"A": {"host": "h", "user": "x"}}}, "hosts.A.user: Extra inputs are not permitted"),
    ("redis", {"password": "secret"}, "password: Extra inputs are not permitted"),
    ("redis", {"contentstring": ["PONG"]}, "contentstring: Input should be a valid string"),
    # SIP
    ("sip", {"transport": "sctp"}, "transport: Input should be 'udp', 'tcp', 'tls', 'ws' or 'wss'"),
    ("sip", {"ignore": "busy"}, "ignore: Value error, 'busy' is not a SIP response code"),
    ("sip", {"ignore": "503,99"}, "ignore: Value error, '99' is not a SIP response code"),
    # SMTP
    ("smtp", {"secure": "smtps"}, "secure: Input should be False, 'ssl' or 'starttls'"),
    ("smtp", {"port": "0"}, "port: Input should be greater than or equal to 1"),
    (
        "smtp",
        {"warningdays": "soon"},
        "warningdays: Input should be a valid integer, unable to parse string as an integer",
    ),
    ("smtp", {"verify": "loose"}, "verify: Input should be a valid boolean, unable to interpret input"),
    # SNMP
    ("snmp", {"fields": FIELDS, "snmpv": "4"}, "snmpv: Input should be '1', '2c' or '3'"),
    ("snmp", {"fields": FIELDS, "port": 0}, "port: Input should be greater than or equal to 1"),
    ("snmp", {"fields": FIELDS, "snmpv": "3"}, "snmpuser: Value error, required when snmpv is 3"),
    (
        "snmp",
        {"fields": FIELDS, "snmpauthpass": "short"},
        "snmpauthpass: String should have at least 8 characters",
    ),
    (
        "snmp",
        {"fields": FIELDS, "snmpv": "3", "snmpuser": "u", "snmpprivpass": "privpass123"},
        "snmpprivpass: Value error, privacy needs authentication: set snmpauthpass too",
    ),
    (
        "snmp",
        {"fields": {"O": {"name": "1.3.6.1", "match": "up"}}},
        "fields: Value error, match is only supported by MYSQL, PGSQL and MONGODB checks (entry 'O')",
    ),
    # SPEC10DNS / SPEC10RDDS
    ("spec10dns", {}, "data: Field required"),
    (
        "spec10dns",
        {"data": {"A": "0", "B": False}},
        'data: Value error, must list at least one member check id with the value "1"',
    ),
    ("spec10dns", {"data": {"A": "yes-ish"}}, "data.A: Input should be '1' or '0'"),
    ("spec10rdds", {}, "data: Field required"),
    (
        "spec10rdds",
        {"data": {"A": 0}},
        'data: Value error, must list at least one member check id with the value "1"',
    ),
    ("spec10rdds", {"data": ["A"]}, "data: Input should be a valid dictionary"),
    # SSH
    ("ssh", {"port": 99999}, "port: Input should be less than or equal to 65535"),
    ("ssh", {"invert": "no way"}, "invert: Input should be a valid boolean, unable to interpret input"),
    ("ssh", {"secure": "ssl"}, "secure: Extra inputs are not permitted"),
    (
        "ssh",
        {"hostkey": "SHA256:nope"},
        "hostkey: Value error, must be an OpenSSH public key line or a SHA256: fingerprint",
    ),
    # SSL
    ("ssl", {"warningdays": -3}, "warningdays: Input should be greater than or equal to 0"),
    (
        "ssl",
        {"warningdays": "a week"},
        "warningdays: Input should be a valid integer, unable to parse string as an integer",
    ),
    ("ssl", {"port": 8443}, "port: Extra inputs are not permitted"),
    # WEBSOCKET
    (
        "websocket",
        {"invert": "sometimes"},
        "invert: Input should be a valid boolean, unable to interpret input",
    ),
    ("websocket", {"contentstring": ["a"]}, "contentstring: Input should be a valid string"),
    ("websocket", {"sendheaders": {"A": "b"}}, "sendheaders: Extra inputs are not permitted"),
    # WHOIS
    ("whois", {"warningdays": -30}, "warningdays: Input should be greater than or equal to 0"),
    ("whois", {"ipv6": "dual"}, "ipv6: Input should be a valid boolean, unable to interpret input"),
    ("whois", {"whoisserver": {"host": "x"}}, "whoisserver: Input should be a valid string"),
]

# (type, target, None when accepted, else the exact ValueError message of Params.check_target)
TARGETS: list[tuple[str, str, str | None]] = [
    ("httpadv", "https://example.com/api", None),
    ("httpadv", "HTTP://example.com/", None),
    ("httpadv", "example.com", "Target must begin with http:// or https://"),
    ("httpcontent", "http://example.com/", None),
    ("httpcontent", "ftp://example.com/", "Target must begin with http:// or https://"),
    ("httpparse", "https://example.com/stats.json", None),
    ("httpparse", "example.com/stats.json", "Target must begin with http:// or https://"),
    ("audio", "http://radio.example:8000/live", None),
    ("audio", "icecast://radio.example/live", "Target must begin with http:// or https://"),
    ("websocket", "wss://ws.example.com/socket", None),
    ("websocket", "WS://ws.example.com", None),
    ("websocket", "https://ws.example.com", "Target must begin with ws:// or wss://"),
    ("websocket", "ws.example.com", "Target must begin with ws:// or wss://"),
    ("ssl", "example.com", None),
    ("ssl", "https://example.com:8443/path", None),
    ("ssl", "http://example.com", "Target must be a host name or begin with https://"),
    ("ssl", "https://", "Target must include a host name"),
    ("redis", "redis://:secret@cache.example.com:6379/0", None),
    ("redis", "rediss://cache.example.com", None),
    ("redis", "cache.example.com:6379", "Target must begin with redis:// or rediss://"),
    ("ssh", "ssh.example.com", None),
    ("ssh", "host; rm -rf /", 'Target must not contain spaces, $, ; or "'),
    ("ssh", "$(whoami)", 'Target must not contain spaces, $, ; or "'),
    ("dns", "8.8.8.8", None),
    ("ping", "2001:db8::1", None),
]

PASSIVE_TYPES = {"agent", "push"}
MEMBER_TYPES = {"cluster", "spec10dns", "spec10rdds"}
TARGETLESS_TYPES = {"agent", "push", "dns", *MEMBER_TYPES}
THRESHOLD_NOT_TIMEOUT = {"mtr", *MEMBER_TYPES}
SECRETS = {
    "agent": {"checktoken"},
    "push": {"checktoken"},
    "ftp": {"password"},
    "imap4": {"password"},
    "pop3": {"password"},
    "smtp": {"password"},
    "ssh": {"password", "sshkey"},
    "mysql": {"password"},
    "redis": {"hosts"},
    "snmp": {"snmpcom", "snmpauthpass", "snmpprivpass"},
}
DEFAULT_PORTS = {
    "dns": 53,
    "ftp": 21,
    "imap4": 143,
    "mysql": 3306,
    "ntp": 123,
    "pop3": 110,
    "smtp": 25,
    "snmp": 161,
    "ssh": 22,
}


def module(name: str) -> ModuleType:
    return importlib.import_module(f"checktypes.{name}")


def params_class(name: str) -> type[CheckParams]:
    params: type[CheckParams] = module(name).Params
    return params


def as_controller_passes(payload: dict[str, Any]) -> dict[str, Any]:
    """Drop the common fields and the empty values (None, "", [], {}), as the controller does."""
    return {
        key: value
        for key, value in payload.items()
        if key not in COMMON_FIELDS
        and not (value is None or (isinstance(value, str | list | dict) and not value))
    }


def validate(name: str, payload: dict[str, Any]) -> CheckParams:
    return params_class(name).model_validate(payload)


def error_message(name: str, payload: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        validate(name, payload)
    return validation_message(caught.value)


def assert_subset(params: CheckParams, expected: dict[str, Any]) -> None:
    dumped = params.model_dump()
    assert {key: dumped.get(key, "<missing>") for key in expected} == expected


# --- the tables cover every type ------------------------------------------------------------------


def test_tables_cover_every_type() -> None:
    builtin = {name.removeprefix("checktypes.") for name in BUILTIN_CHECKTYPES}
    assert set(TYPES) == builtin - {"http", "port"}
    assert set(NODEPING_API_DEFAULTS) == set(TYPES)
    for name in TYPES:
        valid = sum(1 for case in VALID if case[0] == name)
        invalid = sum(1 for case in INVALID if case[0] == name)
        assert valid >= (1 if name == "rdp" else 2), name
        assert invalid >= 2, name


# --- (1) nodeping-api create defaults -------------------------------------------------------------


@pytest.mark.parametrize("name", TYPES)
def test_nodeping_api_default_payload_validates(name: str) -> None:
    specific, expected = NODEPING_API_DEFAULTS[name]
    payload = as_controller_passes({"type": name.upper(), **NODEPING_API_COMMON, **specific})
    params = validate(name, payload)
    assert_subset(params, expected)


def test_nodeping_api_defaults_without_fields_are_stored_and_fail_when_run() -> None:
    # snmp_check and httpparse_check send fields='' unless the caller passes some (check-types.md §5):
    # accepted when stored; the run is a configuration error "Missing fields to parse".
    assert validate("snmp", as_controller_passes({"port": 161, "fields": "", "snmpv": 1})).fields is None
    assert validate("httpparse", as_controller_passes({"fields": "", "sendheaders": {}})).fields is None
    for name in MEMBER_TYPES:
        assert error_message(name, {}) == "data: Field required"


# --- (2) valid payloads ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "payload", "expected"), VALID)
def test_valid_payload(name: str, payload: dict[str, Any], expected: dict[str, Any]) -> None:
    assert_subset(validate(name, payload), expected)


def test_default_ports() -> None:
    for name, port in DEFAULT_PORTS.items():
        payload = {"fields": FIELDS} if name == "snmp" else {}
        assert validate(name, payload).model_dump()["port"] == port, name


def test_ignored_fields() -> None:
    for name in ("imap4", "pop3"):
        params = params_class(name)
        assert params.IGNORED_FIELDS == frozenset({"email"})
        assert "email" not in params.model_fields
    assert "email" in params_class("smtp").model_fields


# --- (3) invalid payloads -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "payload", "message"), INVALID)
def test_invalid_payload(name: str, payload: dict[str, Any], message: str) -> None:
    assert error_message(name, payload) == message


@pytest.mark.parametrize(("name", "target", "message"), TARGETS)
def test_check_target(name: str, target: str, message: str | None) -> None:
    params = params_class(name)
    if message is None:
        assert params.check_target(target) == target
    else:
        with pytest.raises(ValueError) as caught:
            params.check_target(target)
        assert str(caught.value) == message


# --- module contract ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TYPES)
def test_module_contract(name: str) -> None:
    mod = module(name)
    check_type = check_type_from_module(mod, "builtin")
    assert check_type.name == name.upper() == mod.NAME
    assert check_type.description.startswith(f"{mod.NAME}: ")
    assert check_type.passive is (name in PASSIVE_TYPES)
    assert check_type.runnable is (name not in PASSIVE_TYPES)  # every active type has a run()
    assert check_type.threshold_is_timeout is (name not in THRESHOLD_NOT_TIMEOUT)
    assert check_type.params.TARGET_REQUIRED is (name not in TARGETLESS_TYPES)
    assert check_type.params.SECRET_FIELDS == frozenset(SECRETS.get(name, set()))
    assert set(check_type.params.SECRET_FIELDS) <= set(check_type.params.model_fields)
    assert not COMMON_FIELDS & set(check_type.params.model_fields)
    assert check_type.schema()["additionalProperties"] is False


def test_match_only_for_database_types() -> None:
    spec = {"F": {"name": "col", "match": "ok"}}
    for name in ("mysql", "pgsql", "mongodb"):
        assert validate(name, {"fields": spec}).model_dump()["fields"]["F"]["match"] == "ok"
    for name in ("httpparse", "snmp", "push"):
        assert error_message(name, {"fields": spec}).startswith(
            "fields: Value error, match is only supported"
        )


# --- CLUSTER / SPEC10 evaluation ------------------------------------------------------------------

MEMBER_CASES = [
    # (member states, threshold, status, sc, m)
    ({"A": 1, "B": 1, "C": 0}, 2, "up", "2/3", "2 of 3 checks passing (threshold 2)"),
    ({"A": 1, "B": 0, "C": 0}, 2, "down", "1/3", "1 of 3 checks passing (threshold 2)"),
    ({"A": 1, "B": 1, "C": 1}, 5, "down", "3/3", "3 of 3 checks passing (threshold 5)"),
    ({"A": 1, "C": None}, 1, "up", "1/3", "1 of 3 checks passing (threshold 1)"),
    ({}, 1, "down", "0/3", "0 of 3 checks passing (threshold 1)"),
    ({"A": 0, "B": None}, 0, "up", "0/3", "0 of 3 checks passing (threshold 0)"),
    ({"A": 1, "B": 1, "C": 1, "Z": 1}, 3, "up", "3/3", "3 of 3 checks passing (threshold 3)"),
]


@pytest.mark.parametrize("name", sorted(MEMBER_TYPES))
@pytest.mark.parametrize(("states", "threshold", "status", "code", "message"), MEMBER_CASES)
async def test_member_run(
    name: str, states: dict[str, int | None], threshold: int, status: str, code: str, message: str
) -> None:
    mod = module(name)
    params = mod.Params.model_validate({"data": {"A": "1", "B": "1", "C": 1, "D": "0"}})
    ctx = CheckContext(target="", threshold=threshold, member_states=states)
    result = await mod.run(params, ctx)
    assert (result.status, result.code, result.message) == (status, code, message)
    assert result.success is (status == "up")


def test_member_run_with_asyncio_run() -> None:
    mod = module("cluster")
    params = mod.Params.model_validate({"data": {"X": "1", "Y": "0"}})
    result = asyncio.run(
        mod.run(params, CheckContext(target="", threshold=1, member_states={"X": 1, "Y": 1}))
    )
    assert (result.status, result.code, result.message) == (
        "up",
        "1/1",
        "1 of 1 checks passing (threshold 1)",
    )


@pytest.mark.parametrize(("name", "payload", "expected"), VALID)
def test_normalised_values_round_trip(name: str, payload: dict[str, Any], expected: dict[str, Any]) -> None:
    # Stored parameters (JSON) are validated again on update and before each run.
    params = validate(name, payload)
    assert validate(name, params.model_dump(mode="json")) == params
    assert validate(name, params.model_dump(mode="json", exclude_none=True)) == params
