using System.Buffers.Binary;
using SnicRuntime.Firmware.Encap;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Firmware.Nat;

/// <summary>
/// Stateless IP/ICMP translation (RFC 7915) of TCP and UDP between an IPv4 tenant packet and the
/// IPv6 service it reaches through a service tunnel: IPv4 addresses are embedded in the low 32
/// bits of a /96 prefix per side (RFC 6052). The translation is done in place: the L4 header never
/// moves; the IP and Ethernet headers are rewritten in front of it (20 bytes further out for
/// IPv6), and the caller's outer headers are rebuilt afterwards around the new inner frame.
/// </summary>
/// <remarks>
/// TCP/UDP checksums change only by the pseudo header, so they are adjusted by the difference of
/// the address sums (RFC 1624); an IPv4 UDP datagram without a checksum gets a full one, since
/// IPv6 requires it. Not translated (the caller drops them with a reason): IPv4 options or
/// fragments, IPv6 extension headers, ICMP (RFC 7915 §4.2 type mapping is not built).
/// </remarks>
public static class Nat46
{
    /// <summary>
    /// IPv4 → IPv6 with source <paramref name="srcPrefix"/>|src and destination
    /// <paramref name="dstPrefix"/>|dst. Returns the new offset of the inner Ethernet header, or -1
    /// when the packet cannot be translated.
    /// </summary>
    public static int ToIpv6(Span<byte> f, int l2, int l3, int l4, byte protocol, UInt128 srcPrefix, UInt128 dstPrefix)
    {
        if (protocol is not (IpProtocols.Tcp or IpProtocols.Udp) || l3 != l2 + 14 || l4 != l3 + 20 || l4 - 54 < 0
            || (BinaryPrimitives.ReadUInt16BigEndian(f[(l3 + 6)..]) & 0x3FFF) != 0)
        {
            return -1;
        }

        // Everything needed from the old headers first: the new ones overlap them.
        ulong dstMac = TunnelHeaders.ReadMac(f[l2..]), srcMac = TunnelHeaders.ReadMac(f[(l2 + 6)..]);
        byte tos = f[l3 + 1];
        int payload = BinaryPrimitives.ReadUInt16BigEndian(f[(l3 + 2)..]) - 20;
        byte ttl = f[l3 + 8];
        uint src4 = BinaryPrimitives.ReadUInt32BigEndian(f[(l3 + 12)..]);
        uint dst4 = BinaryPrimitives.ReadUInt32BigEndian(f[(l3 + 16)..]);
        if (payload < 0 || l4 + payload > f.Length)
        {
            return -1;
        }

        UInt128 src6 = srcPrefix | src4, dst6 = dstPrefix | dst4;
        int n3 = l4 - 40, n2 = n3 - 14;
        TunnelHeaders.WriteMac(f[n2..], dstMac);
        TunnelHeaders.WriteMac(f[(n2 + 6)..], srcMac);
        BinaryPrimitives.WriteUInt16BigEndian(f[(n2 + 12)..], EtherTypes.Ipv6);
        BinaryPrimitives.WriteUInt32BigEndian(f[n3..], 0x6000_0000u | (uint)tos << 20);
        BinaryPrimitives.WriteUInt16BigEndian(f[(n3 + 4)..], (ushort)payload);
        f[n3 + 6] = protocol;
        f[n3 + 7] = ttl;
        BinaryPrimitives.WriteUInt128BigEndian(f[(n3 + 8)..], src6);
        BinaryPrimitives.WriteUInt128BigEndian(f[(n3 + 24)..], dst6);
        FixChecksum(f, n3, l4, payload, protocol, Sum4(src4, dst4), Sum6(src6, dst6), ipv6: true);
        return n2;
    }

    /// <summary>IPv6 (no extension headers) → IPv4 with the low 32 bits of each address. Returns the new inner Ethernet offset or -1.</summary>
    public static int ToIpv4(Span<byte> f, int l2, int l3, int l4, byte protocol)
    {
        if (protocol is not (IpProtocols.Tcp or IpProtocols.Udp) || l3 != l2 + 14 || l4 != l3 + 40 || f[l3 + 6] != protocol)
        {
            return -1;
        }

        ulong dstMac = TunnelHeaders.ReadMac(f[l2..]), srcMac = TunnelHeaders.ReadMac(f[(l2 + 6)..]);
        byte tclass = (byte)(BinaryPrimitives.ReadUInt32BigEndian(f[l3..]) >> 20);
        int payload = BinaryPrimitives.ReadUInt16BigEndian(f[(l3 + 4)..]);
        byte hops = f[l3 + 7];
        UInt128 src6 = BinaryPrimitives.ReadUInt128BigEndian(f[(l3 + 8)..]);
        UInt128 dst6 = BinaryPrimitives.ReadUInt128BigEndian(f[(l3 + 24)..]);
        if (l4 + payload > f.Length || payload + 20 > ushort.MaxValue)
        {
            return -1;
        }

        uint src4 = (uint)src6, dst4 = (uint)dst6;
        int n3 = l4 - 20, n2 = n3 - 14;
        HeaderWriter.Ipv4(f[n3..], src4, dst4, protocol, payload, ttl: hops);
        f[n3 + 1] = tclass;
        BinaryPrimitives.WriteUInt16BigEndian(f[(n3 + 10)..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(f[(n3 + 10)..], InternetChecksum.Compute(f.Slice(n3, 20)));
        TunnelHeaders.WriteMac(f[n2..], dstMac);
        TunnelHeaders.WriteMac(f[(n2 + 6)..], srcMac);
        BinaryPrimitives.WriteUInt16BigEndian(f[(n2 + 12)..], EtherTypes.Ipv4);
        FixChecksum(f, n3, l4, payload, protocol, Sum6(src6, dst6), Sum4(src4, dst4), ipv6: false);
        return n2;
    }

    private static void FixChecksum(Span<byte> f, int l3, int l4, int payload, byte protocol, uint oldSum, uint newSum, bool ipv6)
    {
        int at = l4 + (protocol == IpProtocols.Tcp ? 16 : 6);
        if (at + 2 > f.Length)
        {
            return;
        }

        ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(f[at..]);
        if (protocol == IpProtocols.Udp && checksum == 0)
        {
            if (ipv6)
            {
                // IPv6 forbids a zero UDP checksum: compute the whole thing.
                Span<byte> l4span = f.Slice(l4, payload);
                HeaderWriter.FinishL4Checksum(f[l3..], l4span, ipv6: true, IpProtocols.Udp);
            }

            return;
        }

        // Ones'-complement: remove the old address words, add the new ones.
        uint sum = (uint)(~checksum & 0xFFFF) + (~InternetChecksum.Fold(oldSum) & 0xFFFF) + InternetChecksum.Fold(newSum);
        ushort updated = (ushort)~InternetChecksum.Fold(sum);
        if (protocol == IpProtocols.Udp && updated == 0)
        {
            updated = 0xFFFF;
        }

        BinaryPrimitives.WriteUInt16BigEndian(f[at..], updated);
    }

    private static uint Sum4(uint a, uint b) => (a >> 16) + (a & 0xFFFF) + (b >> 16) + (b & 0xFFFF);

    private static uint Sum6(UInt128 a, UInt128 b)
    {
        uint sum = 0;
        for (int s = 0; s < 128; s += 16)
        {
            sum += (uint)(ushort)(a >> s) + (uint)(ushort)(b >> s);
        }

        return sum;
    }
}
