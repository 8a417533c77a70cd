#!/usr/bin/python3
"""Sends COUNT scapy-made UDP frames into a tap interface and counts those that come back with
their Ethernet addresses swapped (what dpdk-testpmd's macswap mode does at the far end).

  tap_macswap.py <iface> <count>    prints "back N swapped M"; exit 0 when M == COUNT
"""
import subprocess
import sys
import time

from scapy.all import Ether, IP, UDP, Raw, sendp, AsyncSniffer, conf

iface, count = sys.argv[1], int(sys.argv[2])
conf.verb = 0
subprocess.run(["ip", "link", "set", iface, "up"], check=True)
A, B = "02:00:00:00:00:aa", "02:00:00:00:00:bb"
sent = [Ether(src=A, dst=B) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000 + i, dport=2000) / Raw(bytes([i]) * 40)
        for i in range(count)]
sniffer = AsyncSniffer(iface=iface, lfilter=lambda p: Ether in p and p[Ether].src == B, timeout=8)
sniffer.start()
time.sleep(0.5)
sendp(sent, iface=iface)
sniffer.join()
back = sniffer.results or []
swapped = sum(1 for p in back if p[Ether].dst == A and UDP in p and p[UDP].dport == 2000
              and bytes(p[Raw].load) == bytes([p[UDP].sport - 1000]) * 40)
print(f"back {len(back)} swapped {swapped}")
sys.exit(0 if swapped == count else 1)
