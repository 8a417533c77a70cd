using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Firmware.Encap;

/// <summary>
/// Rewrites a packet's outer headers in place: the inner Ethernet frame stays where it is and the
/// outer headers in front of it are replaced (the buffer's front moves by the size difference,
/// like rte_pktmbuf_prepend/adj). VXLAN over IPv4 is 50 bytes, NVGRE 42, so re-encapsulating a
/// VXLAN arrival never copies the inner frame.
/// </summary>
public static class TunnelHeaders
{
    public const int VxlanOuterLength = 14 + 20 + 8 + 8;
    public const int NvgreOuterLength = 14 + 20 + 8;
    public const byte Ttl = 64;

    /// <summary>
    /// Replaces everything before <paramref name="innerL2"/> with Ethernet/IPv4/UDP/VXLAN (or GRE
    /// for NVGRE) from the appliance to <paramref name="underlayDst"/>. The outer UDP source port
    /// (VXLAN) or NVGRE flow id carries <paramref name="entropy"/>, a hash of the inner 5-tuple, so
    /// underlay ECMP spreads flows (RFC 7348 §5, RFC 7637 §3). False when the headroom is too small.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Encapsulate(PacketRef packet, int innerL2, EncapKind kind, ulong srcMac, ulong dstMac, uint vip, uint underlayDst, uint vni, uint entropy)
    {
        int outer = kind == EncapKind.Vxlan ? VxlanOuterLength : NvgreOuterLength;
        if (!Reframe(packet, innerL2, outer))
        {
            return false;
        }

        Span<byte> f = packet.Data;
        WriteEthernet(f, dstMac, srcMac);
        int ipTotal = f.Length - 14;
        Span<byte> ip = f.Slice(14, 20);
        // Version/IHL, DSCP, total length, id 0, DF, TTL, protocol, checksum, addresses.
        BinaryPrimitives.WriteUInt32BigEndian(ip, 0x4500_0000u | (uint)ipTotal);
        BinaryPrimitives.WriteUInt32BigEndian(ip[4..], 0x0000_4000u);
        BinaryPrimitives.WriteUInt32BigEndian(ip[8..], (uint)Ttl << 24 | (uint)(kind == EncapKind.Vxlan ? IpProtocols.Udp : IpProtocols.Gre) << 16);
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], vip);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], underlayDst);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Ipv4Checksum(ipTotal, kind, vip, underlayDst));
        Span<byte> l4 = f[34..];
        if (kind == EncapKind.Vxlan)
        {
            // Source port in the dynamic range 49152-65535; UDP checksum 0 (allowed over IPv4, RFC 7348).
            BinaryPrimitives.WriteUInt32BigEndian(l4, (0xC000u | (entropy & 0x3FFF)) << 16 | TunnelPorts.Vxlan);
            BinaryPrimitives.WriteUInt32BigEndian(l4[4..], (uint)(ipTotal - 20) << 16);
            BinaryPrimitives.WriteUInt32BigEndian(l4[8..], 0x0800_0000u);
            BinaryPrimitives.WriteUInt32BigEndian(l4[12..], vni << 8);
        }
        else
        {
            // GRE with the key bit; key = VSID (24 bits) and a flow id (8 bits).
            BinaryPrimitives.WriteUInt32BigEndian(l4, 0x2000_6558u);
            BinaryPrimitives.WriteUInt32BigEndian(l4[4..], vni << 8 | (entropy & 0xFF));
        }

        return true;
    }

    /// <summary>Removes the outer headers and addresses the inner frame to the underlay next hop (route action "direct").</summary>
    public static bool Decapsulate(PacketRef packet, int innerL2, ulong srcMac, ulong dstMac)
    {
        if (!packet.TrimFront(innerL2))
        {
            return false;
        }

        WriteEthernet(packet.Data, dstMac, srcMac, keepType: true);
        return true;
    }

    /// <summary>Writes a 48-bit MAC (held in the low bits of a ulong) at the start of <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteMac(Span<byte> dst, ulong mac)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dst, (ushort)(mac >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(dst[2..], (uint)mac);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong ReadMac(ReadOnlySpan<byte> src) =>
        (ulong)BinaryPrimitives.ReadUInt16BigEndian(src) << 32 | BinaryPrimitives.ReadUInt32BigEndian(src[2..]);

    private static bool Reframe(PacketRef packet, int innerL2, int outer)
    {
        int delta = outer - innerL2;
        if (delta > 0)
        {
            return !packet.Prepend(delta).IsEmpty;
        }

        return delta == 0 || packet.TrimFront(-delta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteEthernet(Span<byte> f, ulong dst, ulong src, bool keepType = false)
    {
        WriteMac(f, dst);
        WriteMac(f[6..], src);
        if (!keepType)
        {
            BinaryPrimitives.WriteUInt16BigEndian(f[12..], EtherTypes.Ipv4);
        }
    }

    // The header's fixed words summed directly: no loop over the 20 bytes.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Ipv4Checksum(int total, EncapKind kind, uint src, uint dst)
    {
        uint sum = 0x4500u + (uint)total + 0x4000u + ((uint)Ttl << 8 | (kind == EncapKind.Vxlan ? IpProtocols.Udp : IpProtocols.Gre))
            + (src >> 16) + (src & 0xFFFF) + (dst >> 16) + (dst & 0xFFFF);
        return (ushort)~InternetChecksum.Fold(sum);
    }
}
