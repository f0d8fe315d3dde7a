"""An in-process authoritative DNS server built on dnspython, for the DNS-family tests.

Fixture ``dns_zone_server`` (session): serves the zone ``example.test.`` (``ZONE_TEXT``) over UDP and TCP on
127.0.0.1 (one port number for both), from threads, so tests on any event loop can use it. It also owns a
*silent* port (UDP bound but never read, TCP listening but never accepting): queries there never get an
answer. Yields a :class:`ZoneServer`.

Behaviour, as an authoritative server would answer:
- names in the zone: the records (CNAMEs followed inside the zone), NODATA or NXDOMAIN with the SOA in the
  authority section, target addresses in the additional section for MX/NS/SRV answers;
- ``sub.example.test``: a referral (NS in authority, glue in additional);
- names under ``drop.example.test``: no reply at all (a blocklist that never answers);
- names outside the zone: REFUSED;
- an NSID request (EDNS option 3): the reply carries NSID ``vedette-test``.
Every query received is appended to ``queries`` (so tests can check RD bits and EDNS options sent).
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest

ORIGIN = dns.name.from_text("example.test.")
DELEGATED = dns.name.from_text("sub.example.test.")
DROPPED = dns.name.from_text("drop.example.test.")
NSID = b"vedette-test"

ZONE_TEXT = """\
$TTL 60
@        IN SOA   ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60
@        IN NS    ns1.example.test.
@        IN MX    10 mail.example.test.
ns1      IN A     127.0.0.1
www      IN A     192.0.2.10
www      IN AAAA  2001:db8::10
mail     IN A     192.0.2.25
alias    IN CNAME www.example.test.
txt      IN TXT   "hello from test zone"
multi    IN TXT   "part one, " "part two"
sip      IN A     192.0.2.50
_sip._tcp IN SRV  10 20 5060 sip.example.test.
10.2.0.192.in-addr IN PTR www.example.test.
sub      IN NS    ns.sub.example.test.
ns.sub   IN A     192.0.2.53
; a blocklist zone under example.test: 127.0.0.2 is listed
2.0.0.127.black IN A   127.0.0.2
2.0.0.127.black IN TXT "listed for testing"
; a blocklist that answers with an error code (Spamhaus: "query refused") instead of a listing
2.0.0.127.refused IN A 127.255.255.254
"""


@dataclass
class ZoneServer:
    port: int
    silent_port: int
    host: str = "127.0.0.1"
    queries: list[dns.message.Message] = field(default_factory=list)
    zone: dns.zone.Zone = field(
        default_factory=lambda: dns.zone.from_text(ZONE_TEXT, origin=ORIGIN, relativize=False)
    )

    def answer_wire(self, wire: bytes) -> bytes | None:
        """The reply to one wire-format query (None: stay silent). Used by the DoH/DoT test servers too."""
        try:
            query = dns.message.from_wire(wire)
        except Exception:
            return None
        self.queries.append(query)
        response = self.respond(query)
        return None if response is None else response.to_wire()

    def respond(self, query: dns.message.Message) -> dns.message.Message | None:
        response = dns.message.make_response(query)
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        qname, rdtype = question.name, question.rdtype
        if qname.is_subdomain(DROPPED):
            return None
        if any(option.otype == dns.edns.OptionType.NSID for option in query.options):
            response.use_edns(0, payload=1232, options=[dns.edns.NSIDOption(NSID)])
        if not qname.is_subdomain(ORIGIN):
            response.set_rcode(dns.rcode.REFUSED)
            return response
        if qname.is_subdomain(DELEGATED):
            self._add(response.authority, DELEGATED, dns.rdatatype.NS)
            self._add_addresses(response, response.authority)
            return response
        response.flags |= dns.flags.AA
        name = qname
        for _ in range(8):
            node = self.zone.get_node(name)
            if node is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
                self._add(response.authority, ORIGIN, dns.rdatatype.SOA)
                break
            if rdtype == dns.rdatatype.ANY:
                for rdataset in node.rdatasets:
                    response.answer.append(dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset)))
                break
            if self._add(response.answer, name, rdtype):
                break
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is None:
                self._add(response.authority, ORIGIN, dns.rdatatype.SOA)  # NODATA
                break
            self._add(response.answer, name, dns.rdatatype.CNAME)
            name = cname[0].target
        self._add_addresses(response, response.answer)
        return response

    def _add(self, section: list[dns.rrset.RRset], name: dns.name.Name, rdtype: int) -> bool:
        rdataset = self.zone.get_rdataset(name, rdtype)
        if rdataset is None:
            return False
        section.append(dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset)))
        return True

    def _add_addresses(self, response: dns.message.Message, rrsets: list[dns.rrset.RRset]) -> None:
        targets = [
            getattr(rdata, "exchange", None) or getattr(rdata, "target", None)
            for rrset in rrsets
            if rrset.rdtype in (dns.rdatatype.MX, dns.rdatatype.NS, dns.rdatatype.SRV)
            for rdata in rrset
        ]
        for target in targets:
            if target is not None and target.is_subdomain(ORIGIN):
                self._add(response.additional, target, dns.rdatatype.A)
                self._add(response.additional, target, dns.rdatatype.AAAA)


def _udp_handler(server: ZoneServer) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            reply = server.answer_wire(data)
            if reply is not None:
                sock.sendto(reply, self.client_address)

    return Handler


def _tcp_handler(server: ZoneServer) -> type[socketserver.BaseRequestHandler]:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while True:
                header = self.rfile.read(2)
                if len(header) < 2:
                    return
                (length,) = struct.unpack("!H", header)
                reply = server.answer_wire(self.rfile.read(length))
                if reply is None:
                    continue
                self.wfile.write(struct.pack("!H", len(reply)) + reply)

    return Handler


class _UDPServer(socketserver.ThreadingUDPServer):
    daemon_threads = True


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _bind_pair(zone: ZoneServer) -> tuple[_UDPServer, _TCPServer]:
    """UDP and TCP servers on one free port number."""
    for _ in range(50):
        tcp = _TCPServer(("127.0.0.1", 0), _tcp_handler(zone))
        port = tcp.server_address[1]
        try:
            udp = _UDPServer(("127.0.0.1", port), _udp_handler(zone))
        except OSError:
            tcp.server_close()
            continue
        return udp, tcp
    raise RuntimeError("no port free for both TCP and UDP")


def _silent_pair() -> tuple[socket.socket, socket.socket]:
    """A UDP socket never read and a TCP socket never accepted from, on one port number."""
    for _ in range(50):
        tcp = socket.socket()
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(64)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(("127.0.0.1", tcp.getsockname()[1]))
        except OSError:
            tcp.close()
            udp.close()
            continue
        return udp, tcp
    raise RuntimeError("no port free for both TCP and UDP")


@pytest.fixture(scope="session")
def dns_zone_server() -> Iterator[ZoneServer]:
    silent_udp, silent_tcp = _silent_pair()
    zone = ZoneServer(port=0, silent_port=silent_tcp.getsockname()[1])
    udp, tcp = _bind_pair(zone)
    zone.port = tcp.server_address[1]
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        for s in (udp, tcp)
    ]
    for thread in threads:
        thread.start()
    try:
        yield zone
    finally:
        for server in (udp, tcp):
            server.shutdown()
            server.server_close()
        silent_udp.close()
        silent_tcp.close()
