#!/usr/bin/python3
"""VNET-to-VNET outbound (DASH test-plan semantics), built and checked with scapy.

  vnet_to_vnet.py make <dir>         writes <dir>/in.pcap
  vnet_to_vnet.py check <dir>        reads <dir>/port0.pcap (what the appliance emitted) and checks it
  vnet_to_vnet.py live <iface> <dir> sends the cases on <iface> (a live appliance's uplink), captures
                                     what comes back from the VIP into <dir>/port0.pcap, checks it
  vnet_to_vnet.py udp <to> <from> <dir>  the same over a QEMU socket netdev: each frame is one UDP
                                     datagram sent to 127.0.0.1:<to>; the VM's frames arrive on <from>

Plan: examples/plans/vnet-to-vnet.json (VIP 172.16.1.100, VNI 100, ENI 00:cc:cc:cc:cc:cc,
10.1.0.0/16 -> vnet, CA 10.1.2.50 -> PA 172.16.1.20 with overlay MAC 00:dd:dd:dd:dd:dd).
"""
import sys

from scapy.all import Ether, IP, IPv6, UDP, TCP, Raw, rdpcap, wrpcap, raw
from scapy.layers.vxlan import VXLAN

VIP = "172.16.1.100"
HOST_PA = "172.16.1.1"
REMOTE_PA = "172.16.1.20"
APPLIANCE_MAC = "02:00:00:00:01:00"
NEIGHBOR_MAC = "02:00:00:00:02:00"
ENI_MAC = "00:cc:cc:cc:cc:cc"
REMOTE_MAC = "00:dd:dd:dd:dd:dd"
GATEWAY_MAC = "00:ee:ee:ee:ee:ee"  # what the VM addressed (its gateway); the appliance rewrites it


def outer(inner, vip=VIP, sport=49999):
    return (Ether(src="02:00:00:00:00:99", dst=APPLIANCE_MAC) / IP(src=HOST_PA, dst=vip, ttl=63)
            / UDP(sport=sport, dport=4789) / VXLAN(vni=100, flags=0x08) / inner)


def inner_v4(dst, l4, payload=b"vnet-to-vnet"):
    return Ether(src=ENI_MAC, dst=GATEWAY_MAC) / IP(src="10.1.1.10", dst=dst, ttl=64) / l4 / Raw(payload)


CASES = [
    # (name, packet, expected) -- expected: "forward" or the drop reason
    ("udp-v4", outer(inner_v4("10.1.2.50", UDP(sport=10000, dport=20000))), "forward"),
    ("udp-v6", outer(Ether(src=ENI_MAC, dst=GATEWAY_MAC) / IPv6(src="fd00:1::1:10", dst="fd00:1::2:50")
                     / UDP(sport=10001, dport=20001) / Raw(b"ipv6 overlay")), "forward"),
    ("wrong-vip", outer(inner_v4("10.1.2.50", UDP(sport=10002, dport=20002)), vip="172.16.1.99"), "NotToVip"),
    ("route-miss", outer(inner_v4("10.3.0.5", UDP(sport=10003, dport=20003))), "RouteMiss"),
    ("mapping-miss", outer(inner_v4("10.1.9.9", UDP(sport=10004, dport=20004))), "MappingMiss"),
    ("tcp-syn", outer(inner_v4("10.1.2.50", TCP(sport=33000, dport=80, flags="S", seq=1000))), "forward"),
    ("tcp-ack-same-flow", outer(inner_v4("10.1.2.50", TCP(sport=33000, dport=80, flags="A", seq=1001, ack=1)), sport=50001), "forward"),
    ("tcp-ack-no-flow", outer(inner_v4("10.1.2.50", TCP(sport=33001, dport=80, flags="A", seq=5, ack=1))), "NoFlow"),
]


def make(directory):
    wrpcap(f"{directory}/in.pcap", [Ether(raw(p)) for _, p, _ in CASES])


def check(directory):
    got = rdpcap(f"{directory}/port0.pcap")
    expected = [(name, p) for name, p, e in CASES if e == "forward"]
    errors = []
    if len(got) != len(expected):
        errors.append(f"expected {len(expected)} packets out, got {len(got)}")
    ports = {}
    for (name, sent), out in zip(expected, got):
        def bad(what):
            errors.append(f"{name}: {what}")
        if out[Ether].src != APPLIANCE_MAC or out[Ether].dst != NEIGHBOR_MAC:
            bad(f"outer MACs {out[Ether].src} -> {out[Ether].dst}")
        ip = out[IP]
        if (ip.src, ip.dst, ip.ttl) != (VIP, REMOTE_PA, 64):
            bad(f"outer IP {ip.src} -> {ip.dst} ttl {ip.ttl}")
        fresh = IP(raw(ip))
        del fresh.chksum
        if IP(raw(fresh)).chksum != ip.chksum:
            bad("outer IPv4 checksum wrong")
        if not out.haslayer(VXLAN) or out[UDP].dport != 4789 or out[VXLAN].vni != 100:
            bad("not VXLAN VNI 100 to port 4789")
            continue
        if not 49152 <= out[UDP].sport <= 65535:
            bad(f"outer UDP source port {out[UDP].sport} outside 49152-65535")
        if ip.len != len(raw(ip)):
            bad(f"outer IP length {ip.len} != {len(raw(ip))}")
        want = sent[VXLAN].payload.copy()
        want[Ether].dst = REMOTE_MAC
        if raw(out[VXLAN].payload) != raw(want):
            bad("inner frame differs from the sent one with the destination MAC rewritten")
        ports[name] = out[UDP].sport
    if "tcp-syn" in ports and ports.get("tcp-syn") != ports.get("tcp-ack-same-flow"):
        errors.append("two packets of one flow left with different outer UDP source ports")
    for e in errors:
        print(e)
    if errors:
        sys.exit(1)
    print(f"ok: {len(got)} packets checked")


def live(iface, directory):
    import time
    from scapy.all import AsyncSniffer, sendp, conf
    conf.verb = 0
    forwarded = sum(1 for _, _, e in CASES if e == "forward")
    sniffer = AsyncSniffer(iface=iface, lfilter=lambda p: IP in p and p[IP].src == VIP, count=forwarded, timeout=8)
    sniffer.start()
    time.sleep(0.5)
    for _, packet, _ in CASES:
        sendp(packet, iface=iface)
        time.sleep(0.02)  # in order: the SYN makes the flow its ACK then finds
    sniffer.join()
    wrpcap(f"{directory}/port0.pcap", sniffer.results or [])
    check(directory)


def udp(to_port, from_port, directory):
    import socket
    import time
    forwarded = sum(1 for _, _, e in CASES if e == "forward")
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", from_port))
    rx.settimeout(0.5)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    got = []
    for _, packet, _ in CASES:
        tx.sendto(raw(packet), ("127.0.0.1", to_port))
        time.sleep(0.2)  # in order, and slow enough for a software-emulated machine
    deadline = time.time() + 30
    while len(got) < forwarded and time.time() < deadline:
        try:
            frame = Ether(rx.recv(65536))
        except socket.timeout:
            continue
        if IP in frame and frame[IP].src == VIP:
            got.append(frame)
    wrpcap(f"{directory}/port0.pcap", got)
    check(directory)


if __name__ == "__main__":
    if sys.argv[1] == "udp":
        udp(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "live":
        live(sys.argv[2], sys.argv[3])
    else:
        {"make": make, "check": check}[sys.argv[1]](sys.argv[2])
