#!/usr/bin/python3
"""Makes the parser's test captures with scapy, an implementation nobody here wrote.

Writes, next to this script:
  parser-valid.pcap      frames the parser must accept
  parser-malformed.pcap  frames the parser must drop, each for one named reason
  parser-expected.json   per frame: its name and what the parser must report

Run with Debian's python (scapy is python3-scapy): /usr/bin/python3 tests/captures/make_captures.py
The outputs are committed; the tests read them, so the tests need no scapy.
"""
import json
import os

from scapy.all import (ARP, GRE, ICMP, IP, UDP, TCP, Dot1AD, Dot1Q, Ether, ICMPv6EchoRequest,
                       IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrRouting, Raw, wrpcap)
from scapy.contrib.geneve import GENEVE
from scapy.layers.vxlan import VXLAN

HERE = os.path.dirname(os.path.abspath(__file__))
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"
PAYLOAD = Raw(b"snic" * 4)


def eth(t=None):
    return Ether(src=MAC_A, dst=MAC_B) if t is None else Ether(src=MAC_A, dst=MAC_B, type=t)


valid = []      # (name, packet, expectation)
malformed = []  # (name, packet, reason)


def add(name, pkt, **exp):
    pkt = pkt.__class__(bytes(pkt))  # freeze checksums and lengths as real bytes
    valid.append((name, pkt, exp))


# --- plain traffic -----------------------------------------------------------
p = eth() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1234, dport=80, flags="S") / PAYLOAD
add("ipv4-tcp-syn", p, l3=14, l4=34, proto=6, sport=1234, dport=80, tcpFlags=0x02)
p = eth() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5353, dport=53) / PAYLOAD
add("ipv4-udp", p, l3=14, l4=34, proto=17, sport=5353, dport=53)
p = eth() / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(type=8, id=0x4242, seq=1) / PAYLOAD
add("ipv4-icmp-echo", p, l3=14, l4=34, proto=1, sport=0x4242, dport=0x4242)
p = eth() / IP(src="10.0.0.1", dst="10.0.0.2", options=[b"\x01\x01\x01\x00"]) / TCP(sport=1, dport=2, flags="A")
add("ipv4-options-tcp", p, l3=14, l4=38, proto=6, sport=1, dport=2, tcpFlags=0x10, flags=["Ipv4Options"])
p = eth() / IP(src="10.0.0.1", dst="10.0.0.2", flags="MF", frag=0) / UDP(sport=7, dport=9) / PAYLOAD
add("ipv4-first-fragment", p, l3=14, l4=34, proto=17, sport=7, dport=9, flags=["Fragment"])
p = eth() / IP(src="10.0.0.1", dst="10.0.0.2", proto=17, frag=100) / Raw(b"x" * 24)
add("ipv4-later-fragment", p, l3=14, proto=17, flags=["Fragment", "NonFirstFragment"], noL4=True)
p = eth() / Dot1Q(vlan=100) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=10, dport=20, flags="PA") / PAYLOAD
add("vlan-ipv4-tcp", p, l3=18, l4=38, proto=6, sport=10, dport=20, tcpFlags=0x18, vlan=100)
p = eth() / Dot1AD(vlan=200) / Dot1Q(vlan=300) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2)
add("qinq-ipv4-udp", p, l3=22, l4=42, proto=17, sport=1, dport=2, vlan=200, vlan2=300)
p = eth() / ARP(op=1, psrc="10.0.0.1", pdst="10.0.0.2")
add("arp-request", p, flags=["Arp"], noL4=True, noIp=True)
p = eth() / IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=4000, dport=443, flags="S")
add("ipv6-tcp-syn", p, l3=14, l4=54, proto=6, sport=4000, dport=443, tcpFlags=0x02, flags=["Ipv6"])
p = eth() / IPv6(src="fd00::1", dst="fd00::2") / ICMPv6EchoRequest(id=77, seq=1)
add("ipv6-icmpv6-echo", p, l3=14, l4=54, proto=58, sport=77, dport=77, flags=["Ipv6"])
p = (eth() / IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting()
     / IPv6ExtHdrDestOpt() / UDP(sport=11, dport=22) / PAYLOAD)
add("ipv6-ext-hbh-routing-dest-udp", p, l3=14, l4=54 + 8 + 8 + 8, proto=17, sport=11, dport=22, flags=["Ipv6", "Ipv6Extensions"])
p = eth() / IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrFragment(offset=0, m=1) / UDP(sport=5, dport=6) / PAYLOAD
add("ipv6-first-fragment", p, l3=14, l4=62, proto=17, sport=5, dport=6, flags=["Ipv6", "Fragment"])
p = eth() / IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrFragment(offset=10, m=0, nh=17) / Raw(b"y" * 16)
add("ipv6-later-fragment", p, l3=14, proto=17, flags=["Ipv6", "Fragment", "NonFirstFragment"], noL4=True)

# --- tunnels ---------------------------------------------------------------
inner4 = Ether(src="02:aa:00:00:00:01", dst="02:aa:00:00:00:02") / IP(src="192.168.1.1", dst="192.168.1.2") / TCP(sport=3333, dport=22, flags="S")
inner6 = Ether(src="02:aa:00:00:00:01", dst="02:aa:00:00:00:02") / IPv6(src="fd01::1", dst="fd01::2") / UDP(sport=999, dport=53) / PAYLOAD
p = eth() / IP(src="100.65.0.1", dst="100.64.0.1") / UDP(sport=50000, dport=4789) / VXLAN(vni=1000) / inner4
add("vxlan-ipv4-inner-ipv4-tcp", p, outerL3=14, outerL4=34, tunnel="Vxlan", vni=1000, innerL2=50, innerL3=64, innerL4=84,
    proto=6, sport=3333, dport=22, tcpFlags=0x02, flags=["Tunneled"])
p = eth() / IP(src="100.65.0.1", dst="100.64.0.1") / UDP(sport=50001, dport=4789) / VXLAN(vni=0xABCDE) / inner6
add("vxlan-ipv4-inner-ipv6-udp", p, outerL3=14, outerL4=34, tunnel="Vxlan", vni=0xABCDE, innerL2=50, innerL3=64, innerL4=104,
    proto=17, sport=999, dport=53, flags=["Tunneled", "Ipv6"])
p = eth() / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=50002, dport=4789) / VXLAN(vni=7) / inner4
add("vxlan-ipv6-inner-ipv4-tcp", p, outerL3=14, outerL4=54, tunnel="Vxlan", vni=7, innerL2=70, innerL3=84, innerL4=104,
    proto=6, sport=3333, dport=22, tcpFlags=0x02, flags=["Tunneled", "OuterIpv6"])
p = (eth() / IP(src="100.65.0.1", dst="100.64.0.1") / UDP(sport=50003, dport=6081)
     / GENEVE(vni=4242, proto=0x6558, optionlen=2, options=b"\x01\x02\x03\x01" + b"\x00" * 4) / inner4)
add("geneve-options-inner-ipv4-tcp", p, outerL3=14, outerL4=34, tunnel="Geneve", vni=4242, innerL2=58, innerL3=72, innerL4=92,
    proto=6, sport=3333, dport=22, tcpFlags=0x02, flags=["Tunneled", "GeneveOptions"])
p = (eth() / IP(src="100.65.0.1", dst="100.64.0.1") / UDP(sport=50004, dport=6081)
     / GENEVE(vni=5, proto=0x0800) / IP(src="192.168.9.1", dst="192.168.9.2") / UDP(sport=1, dport=2))
add("geneve-inner-ip-no-l2", p, outerL3=14, outerL4=34, tunnel="Geneve", vni=5, innerL3=50, innerL4=70,
    proto=17, sport=1, dport=2, flags=["Tunneled"])
p = eth() / IP(src="100.65.0.1", dst="100.64.0.1") / GRE(key_present=1, key=(0x123456 << 8) | 0x01, proto=0x6558) / inner6
add("nvgre-inner-ipv6-udp", p, outerL3=14, tunnel="Nvgre", vni=0x123456, innerL2=42, innerL3=56, innerL4=96,
    proto=17, sport=999, dport=53, flags=["Tunneled", "Ipv6"])
p = eth() / IP(src="100.65.0.1", dst="100.64.0.1") / GRE(proto=0x0800) / IP(src="1.1.1.1", dst="2.2.2.2") / ICMP(type=0, id=9)
add("gre-inner-ipv4-icmp", p, outerL3=14, tunnel="Gre", innerL3=38, innerL4=58, proto=1, sport=9, dport=9, flags=["Tunneled"])
p = eth() / Dot1Q(vlan=5) / IP(src="100.65.0.1", dst="100.64.0.1") / UDP(sport=50005, dport=4789) / VXLAN(vni=33) / \
    Ether(src="02:aa:00:00:00:01", dst="02:aa:00:00:00:02") / Dot1Q(vlan=6) / IP(src="192.168.1.1", dst="192.168.1.2") / UDP(sport=5, dport=6)
add("vlan-vxlan-inner-vlan", p, outerL3=18, outerL4=38, tunnel="Vxlan", vni=33, innerL2=54, innerL3=72, innerL4=92, proto=17,
    sport=5, dport=6, vlan=5, flags=["Tunneled", "InnerVlan"])
# Ethernet padding after a short IP packet must be ignored: L3End = 14 + IP total length.
raw = bytes(eth() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2)) + bytes(18)
valid.append(("ipv4-udp-ethernet-padding", Ether(raw), dict(l3=14, l4=34, proto=17, sport=1, dport=2, l3End=42, padded=True)))

# --- malformed: one reason each ----------------------------------------------
def bad(name, data, reason):
    malformed.append((name, bytes(data), reason))


def set_bytes(pkt, at, values):
    b = bytearray(bytes(pkt))
    b[at:at + len(values)] = values
    return b


base4 = eth() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1, dport=2, flags="S")
base6 = eth() / IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=1, dport=2) / PAYLOAD
bad("ethernet-13-bytes", bytes(base4)[:13], "EthernetTruncated")
bad("vlan-tag-truncated", bytes(eth(0x8100))[:14] + b"\x00\x64", "VlanTruncated")
bad("three-vlan-tags", eth() / Dot1AD(vlan=1) / Dot1Q(vlan=2) / Dot1Q(vlan=3) / IP() / TCP(), "VlanTooManyTags")
bad("ethertype-lldp", eth(0x88CC) / Raw(b"\x00" * 40), "UnsupportedEtherType")
bad("arp-truncated", bytes(eth() / ARP())[:30], "ArpTruncated")
bad("ipv4-header-truncated", bytes(base4)[:14 + 12], "Ipv4Truncated")
bad("ipv4-version-5", set_bytes(base4, 14, b"\x55"), "Ipv4BadVersion")
bad("ipv4-ihl-4", set_bytes(base4, 14, b"\x44"), "Ipv4BadHeaderLength")
bad("ipv4-total-length-too-big", eth() / IP(src="10.0.0.1", dst="10.0.0.2", len=200) / TCP(), "Ipv4BadTotalLength")
bad("ipv4-total-length-below-header", eth() / IP(src="10.0.0.1", dst="10.0.0.2", len=10) / TCP(), "Ipv4BadTotalLength")
bad("ipv4-bad-checksum", eth() / IP(src="10.0.0.1", dst="10.0.0.2", chksum=0x1234) / TCP(), "Ipv4BadChecksum")
bad("ipv4-option-length-overrun", eth() / IP(src="10.0.0.1", dst="10.0.0.2", options=[b"\x07\x09\x04\x00"]) / TCP(), "Ipv4BadOptions")
bad("ipv6-header-truncated", bytes(base6)[:14 + 30], "Ipv6Truncated")
bad("ipv6-version-4", set_bytes(base6, 14, b"\x40"), "Ipv6BadVersion")
bad("ipv6-payload-length-too-big", eth() / IPv6(src="fd00::1", dst="fd00::2", plen=500) / UDP(), "Ipv6BadPayloadLength")
bad("ipv6-ext-truncated", eth() / IPv6(src="fd00::1", dst="fd00::2", nh=60) / Raw(b"\x11\x05" + b"\x00" * 6), "Ipv6ExtensionTruncated")
bad("ipv6-hbh-not-first", eth() / IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrDestOpt() / IPv6ExtHdrHopByHop() / UDP(), "Ipv6MisplacedHopByHop")
many = IPv6ExtHdrDestOpt(nh=60)
for _ in range(9):
    many = many / IPv6ExtHdrDestOpt(nh=60)
bad("ipv6-ten-extensions", eth() / IPv6(src="fd00::1", dst="fd00::2", nh=60) / many / UDP(), "Ipv6TooManyExtensions")
bad("tcp-truncated", eth() / IP(src="10.0.0.1", dst="10.0.0.2", proto=6) / Raw(b"\x00" * 10), "TcpTruncated")
bad("tcp-data-offset-3", eth() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(dataofs=3), "TcpBadDataOffset")
bad("tcp-data-offset-past-end", eth() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(dataofs=15), "TcpBadDataOffset")
bad("udp-truncated", eth() / IP(src="10.0.0.1", dst="10.0.0.2", proto=17) / Raw(b"\x00" * 4), "UdpTruncated")
bad("udp-length-too-big", eth() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(len=100), "UdpBadLength")
bad("udp-length-below-8", eth() / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(len=4), "UdpBadLength")
bad("icmp-truncated", eth() / IP(src="10.0.0.1", dst="10.0.0.2", proto=1) / Raw(b"\x08\x00\x00"), "IcmpTruncated")
bad("vxlan-truncated", eth() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=4789) / Raw(b"\x08\x00\x00"), "VxlanTruncated")
bad("vxlan-no-i-flag", eth() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=4789) / VXLAN(flags=0, vni=1) / inner4, "VxlanBadFlags")
bad("vxlan-inner-ethernet-truncated", eth() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=4789) / VXLAN(vni=1) / Raw(b"\x00" * 10), "EthernetTruncated")
bad("vxlan-inner-ipv4-bad-checksum", eth() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=4789) / VXLAN(vni=1)
    / Ether() / IP(src="3.3.3.3", dst="4.4.4.4", chksum=1) / TCP(), "Ipv4BadChecksum")
bad("geneve-truncated", eth() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=6081) / Raw(b"\x00\x00\x65"), "GeneveTruncated")
bad("geneve-version-1", eth() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=6081) / GENEVE(version=1, proto=0x6558) / inner4, "GeneveBadVersion")
bad("geneve-option-overrun", eth() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=6081)
    / GENEVE(proto=0x6558, optionlen=1, options=b"\x01\x02\x03\x05") / inner4, "GeneveBadOptions")
bad("geneve-unknown-payload", eth() / IP(src="1.1.1.1", dst="2.2.2.2") / UDP(sport=1, dport=6081) / GENEVE(proto=0x88CC) / Raw(b"\x00" * 20), "TunnelUnsupportedPayload")
bad("gre-truncated", eth() / IP(src="1.1.1.1", dst="2.2.2.2", proto=47) / Raw(b"\x00\x00"), "GreTruncated")
bad("gre-version-1", eth() / IP(src="1.1.1.1", dst="2.2.2.2", proto=47) / Raw(b"\x00\x01\x08\x00") / IP() / TCP(), "GreBadHeader")
bad("gre-key-truncated", eth() / IP(src="1.1.1.1", dst="2.2.2.2", proto=47) / Raw(b"\x20\x00\x65\x58\x00\x00"), "GreTruncated")

wrpcap(os.path.join(HERE, "parser-valid.pcap"), [p for _, p, _ in valid])
wrpcap(os.path.join(HERE, "parser-malformed.pcap"), [p for _, p, _ in malformed], linktype=1)
expected = {
    "valid": [dict(name=n, **e) for n, _, e in valid],
    "malformed": [dict(name=n, drop=r) for n, _, r in malformed],
}
with open(os.path.join(HERE, "parser-expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
print(f"wrote {len(valid)} valid and {len(malformed)} malformed frames")
