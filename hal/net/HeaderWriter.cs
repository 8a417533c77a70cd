using System.Buffers.Binary;

namespace SnicRuntime.Hal.Net;

/// <summary>
/// Writes protocol headers into a frame buffer. Used off the fast path (traffic generation,
/// tests, OAM probes); encap on the fast path has its own precomputed templates.
/// Each method returns the number of bytes written.
/// </summary>
public static class HeaderWriter
{
    public const int EthernetLength = 14;
    public const int Ipv4Length = 20;
    public const int Ipv6Length = 40;
    public const int TcpLength = 20;
    public const int UdpLength = 8;
    public const int IcmpLength = 8;
    public const int VxlanLength = 8;

    public static int Ethernet(Span<byte> dst, ReadOnlySpan<byte> dstMac, ReadOnlySpan<byte> srcMac, ushort etherType)
    {
        dstMac[..6].CopyTo(dst);
        srcMac[..6].CopyTo(dst[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(dst[12..], etherType);
        return EthernetLength;
    }

    /// <summary>IPv4 header without options, checksum filled in. <paramref name="payloadLength"/> excludes the header.</summary>
    public static int Ipv4(Span<byte> dst, uint src, uint dstAddr, byte protocol, int payloadLength, byte ttl = 64, ushort id = 0, bool dontFragment = true)
    {
        dst[0] = 0x45;
        dst[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(dst[2..], (ushort)(Ipv4Length + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(dst[4..], id);
        BinaryPrimitives.WriteUInt16BigEndian(dst[6..], dontFragment ? (ushort)0x4000 : (ushort)0);
        dst[8] = ttl;
        dst[9] = protocol;
        dst[10] = 0;
        dst[11] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(dst[12..], src);
        BinaryPrimitives.WriteUInt32BigEndian(dst[16..], dstAddr);
        BinaryPrimitives.WriteUInt16BigEndian(dst[10..], InternetChecksum.Compute(dst[..Ipv4Length]));
        return Ipv4Length;
    }

    public static int Ipv6(Span<byte> dst, ReadOnlySpan<byte> src, ReadOnlySpan<byte> dstAddr, byte nextHeader, int payloadLength, byte hopLimit = 64, uint flowLabel = 0)
    {
        BinaryPrimitives.WriteUInt32BigEndian(dst, 0x60000000u | (flowLabel & 0xFFFFF));
        BinaryPrimitives.WriteUInt16BigEndian(dst[4..], (ushort)payloadLength);
        dst[6] = nextHeader;
        dst[7] = hopLimit;
        src[..16].CopyTo(dst[8..]);
        dstAddr[..16].CopyTo(dst[24..]);
        return Ipv6Length;
    }

    /// <summary>TCP header without options; checksum left zero (see <see cref="FinishL4Checksum"/>).</summary>
    public static int Tcp(Span<byte> dst, ushort srcPort, ushort dstPort, uint seq, uint ack, TcpFlags flags, ushort window = 65535)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dst, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(dst[2..], dstPort);
        BinaryPrimitives.WriteUInt32BigEndian(dst[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(dst[8..], ack);
        dst[12] = 5 << 4;
        dst[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(dst[14..], window);
        BinaryPrimitives.WriteUInt32BigEndian(dst[16..], 0); // checksum, urgent pointer
        return TcpLength;
    }

    public static int Udp(Span<byte> dst, ushort srcPort, ushort dstPort, int payloadLength)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dst, srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(dst[2..], dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(dst[4..], (ushort)(UdpLength + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(dst[6..], 0);
        return UdpLength;
    }

    /// <summary>ICMP / ICMPv6 echo header; checksum left zero.</summary>
    public static int IcmpEcho(Span<byte> dst, byte type, ushort identifier, ushort sequence)
    {
        dst[0] = type;
        dst[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(dst[2..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(dst[4..], identifier);
        BinaryPrimitives.WriteUInt16BigEndian(dst[6..], sequence);
        return IcmpLength;
    }

    public static int Vxlan(Span<byte> dst, uint vni)
    {
        BinaryPrimitives.WriteUInt32BigEndian(dst, 0x08000000u); // I flag: VNI valid
        BinaryPrimitives.WriteUInt32BigEndian(dst[4..], vni << 8);
        return VxlanLength;
    }

    /// <summary>
    /// Fills the checksum of the TCP/UDP/ICMP(v6) segment at <paramref name="l4"/> that starts an
    /// IP payload whose header begins at <paramref name="l3"/>. ICMPv4 has no pseudo-header.
    /// </summary>
    public static void FinishL4Checksum(Span<byte> l3, Span<byte> l4, bool ipv6, byte protocol)
    {
        int checksumOffset = protocol switch
        {
            IpProtocols.Tcp => 16,
            IpProtocols.Udp => 6,
            _ => 2,
        };
        BinaryPrimitives.WriteUInt16BigEndian(l4[checksumOffset..], 0);
        uint pseudo = protocol == IpProtocols.Icmp
            ? 0
            : ipv6
                ? InternetChecksum.PseudoHeaderV6(l3.Slice(8, 16), l3.Slice(24, 16), protocol, l4.Length)
                : InternetChecksum.PseudoHeaderV4(l3.Slice(12, 4), l3.Slice(16, 4), protocol, l4.Length);
        ushort sum = InternetChecksum.Compute(l4, pseudo);
        if (sum == 0 && protocol == IpProtocols.Udp)
        {
            sum = 0xFFFF; // UDP: 0 means "no checksum", so a computed 0 is sent as -0
        }

        BinaryPrimitives.WriteUInt16BigEndian(l4[checksumOffset..], sum);
    }
}
