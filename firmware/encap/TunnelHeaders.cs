using SnicRuntime.Contracts.Plans;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
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
    public static unsafe bool Encapsulate(PacketRef packet, int innerL2, EncapKind kind, ulong srcMac, ulong dstMac, uint vip, uint underlayDst, uint vni, uint entropy)
    {
        int outer = kind == EncapKind.Vxlan ? VxlanOuterLength : NvgreOuterLength;
        if (!Reframe(packet, innerL2, outer))
        {
            return false;
        }

        // The frame now starts with `outer` bytes of room (Reframe checked the headroom), so the
        // headers are stored straight through the data pointer: big-endian words, no per-field
        // bounds checks on the per-packet path.
        byte* f = packet.DataPointer;
        int ipTotal = packet.Length - 14;
        Store64(f, dstMac << 16 | srcMac >> 32);
        Store32(f + 8, (uint)srcMac);
        // Version/IHL, DSCP, total length | id 0, DF | TTL, protocol, checksum | addresses.
        uint protocol = kind == EncapKind.Vxlan ? IpProtocols.Udp : IpProtocols.Gre;
        Store32(f + 12, (uint)EtherTypes.Ipv4 << 16 | 0x4500u);
        Store32(f + 16, (uint)ipTotal << 16);
        Store32(f + 20, 0x4000_0000u | (uint)Ttl << 8 | protocol);
        Store32(f + 24, (uint)Ipv4Checksum(ipTotal, kind, vip, underlayDst) << 16 | vip >> 16);
        Store32(f + 28, vip << 16 | underlayDst >> 16);
        if (kind == EncapKind.Vxlan)
        {
            // UDP at 34: source port in the dynamic range 49152-65535, checksum 0 (allowed over
            // IPv4, RFC 7348); VXLAN at 42: flags with the I bit, VNI in bytes 46-48.
            Store32(f + 32, underlayDst << 16 | 0xC000u | (entropy & 0x3FFF));
            Store32(f + 36, (uint)TunnelPorts.Vxlan << 16 | (uint)(ipTotal - 20));
            Store32(f + 40, 0x0000_0800u);
            Store16(f + 44, 0);
            Store32(f + 46, vni << 8);
        }
        else
        {
            // GRE at 34 with the key bit; key = VSID (24 bits) and a flow id (8 bits).
            Store32(f + 32, underlayDst << 16 | 0x2000u);
            Store16(f + 36, 0x6558);
            Store32(f + 38, vni << 8 | (entropy & 0xFF));
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store16(byte* at, ushort value) => Unsafe.WriteUnaligned(at, BinaryPrimitives.ReverseEndianness(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store32(byte* at, uint value) => Unsafe.WriteUnaligned(at, BinaryPrimitives.ReverseEndianness(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store64(byte* at, ulong value) => Unsafe.WriteUnaligned(at, BinaryPrimitives.ReverseEndianness(value));

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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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
