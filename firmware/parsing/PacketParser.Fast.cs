using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Firmware.Parsing;

public static partial class PacketParser
{
    /// <summary>
    /// The common case in one straight pass: untagged Ethernet, option-less unfragmented IPv4 with
    /// a good checksum, TCP or non-tunnel UDP. Everything it accepts gets exactly the result the
    /// general parser would give (a differential test holds it to that); anything else returns
    /// false and the general parser decides, including every drop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryParseCommon(ReadOnlySpan<byte> frame, out ParsedPacket p)
    {
        p = default;
        // 54 bytes covers Ethernet + IPv4 + a TCP header; UDP's 8 bytes fit in it too.
        if (frame.Length < 54)
        {
            return false;
        }

        ref byte f = ref MemoryMarshal.GetReference(frame);
        ushort etherType = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, 12)));
        if (etherType != EtherTypes.Ipv4 || Unsafe.Add(ref f, 14) != 0x45)
        {
            return false;
        }

        int totalLength = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, 16)));
        int fragment = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, 20)));
        byte protocol = Unsafe.Add(ref f, 23);
        ushort srcPort = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, 34)));
        ushort dstPort = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, 36)));
        // Tunnels are turned away before the checksum: the VXLAN pass verifies it, once.
        if (totalLength < 40 || totalLength > frame.Length - 14 || (fragment & 0x3FFF) != 0
            || protocol is not (IpProtocols.Tcp or IpProtocols.Udp)
            || (protocol == IpProtocols.Udp && dstPort is TunnelPorts.Vxlan or TunnelPorts.Geneve)
            || !InternetChecksum.VerifyIpv4Header(frame.Slice(14, 20)))
        {
            return false;
        }

        int l4Available = totalLength - 20;
        if (protocol == IpProtocols.Tcp)
        {
            int dataOffset = (Unsafe.Add(ref f, 46) >> 4) * 4;
            if (dataOffset < 20 || dataOffset > l4Available)
            {
                return false;
            }

            p.TcpFlags = Unsafe.Add(ref f, 47);
        }
        else
        {
            int udpLength = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, 38)));
            if (udpLength < 8 || udpLength > l4Available)
            {
                return false;
            }
        }

        p.OuterL3 = 14;
        p.OuterL4 = 34;
        p.L3End = (ushort)(14 + totalLength);
        p.EtherType = EtherTypes.Ipv4;
        p.OuterL4Protocol = protocol;
        p.L4Protocol = protocol;
        p.SrcPort = srcPort;
        p.DstPort = dstPort;
        p.Flags = PacketFlags.HasIp | PacketFlags.HasL4;
        uint src = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref f, 26)));
        uint dst = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref f, 30)));
        p.FlowHash = FlowHash.V4(src, dst, srcPort, dstPort, protocol);
        return true;
    }

    /// <summary>
    /// The common overlay case in one pass: the common outer IPv4/UDP to port 4789, a VXLAN header
    /// with the I flag, untagged inner Ethernet, inner option-less unfragmented IPv4 or IPv6
    /// without extension headers, inner TCP or UDP. Same contract as <see cref="TryParseCommon"/>.
    /// </summary>
    private static bool TryParseVxlan(ReadOnlySpan<byte> frame, out ParsedPacket p)
    {
        p = default;
        ref byte f = ref MemoryMarshal.GetReference(frame);
        // Outer: Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 = 64 bytes, then inner IP.
        if (frame.Length < 64 + 40 + 8
            || BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, 12))) != EtherTypes.Ipv4
            || Unsafe.Add(ref f, 14) != 0x45 || Unsafe.Add(ref f, 23) != IpProtocols.Udp
            || (BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, 20))) & 0x3FFF) != 0
            || BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, 36))) != TunnelPorts.Vxlan
            || (Unsafe.Add(ref f, 42) & 0x08) == 0)
        {
            return false;
        }

        int outerTotal = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, 16)));
        int udpLength = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, 38)));
        if (outerTotal > frame.Length - 14 || udpLength < 16 || udpLength > outerTotal - 20
            || !InternetChecksum.VerifyIpv4Header(frame.Slice(14, 20)))
        {
            return false;
        }

        int outerEnd = 14 + outerTotal;
        ushort innerType = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, 62)));
        int l3 = 64;
        int l4;
        int innerEnd;
        byte protocol;
        bool ipv6 = innerType == EtherTypes.Ipv6;
        if (innerType == EtherTypes.Ipv4)
        {
            int total = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, l3 + 2)));
            if (Unsafe.Add(ref f, l3) != 0x45 || total < 20 || total > outerEnd - l3
                || (BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, l3 + 6))) & 0x3FFF) != 0
                || !InternetChecksum.VerifyIpv4Header(frame.Slice(l3, 20)))
            {
                return false;
            }

            protocol = Unsafe.Add(ref f, l3 + 9);
            l4 = l3 + 20;
            innerEnd = l3 + total;
        }
        else if (ipv6)
        {
            int payload = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, l3 + 4)));
            if (Unsafe.Add(ref f, l3) >> 4 != 6 || payload == 0 || 40 + payload > outerEnd - l3)
            {
                return false;
            }

            protocol = Unsafe.Add(ref f, l3 + 6);
            l4 = l3 + 40;
            innerEnd = l3 + 40 + payload;
        }
        else
        {
            return false;
        }

        int available = innerEnd - l4;
        if (protocol == IpProtocols.Tcp)
        {
            if (available < 20)
            {
                return false;
            }

            int dataOffset = (Unsafe.Add(ref f, l4 + 12) >> 4) * 4;
            if (dataOffset < 20 || dataOffset > available)
            {
                return false;
            }

            p.TcpFlags = Unsafe.Add(ref f, l4 + 13);
        }
        else if (protocol == IpProtocols.Udp)
        {
            int length = available < 8 ? 0 : BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, l4 + 4)));
            if (length < 8 || length > available)
            {
                return false;
            }
        }
        else
        {
            return false;
        }

        p.OuterL3 = 14;
        p.OuterL4 = 34;
        p.OuterL4Protocol = IpProtocols.Udp;
        p.TunnelHeader = 42;
        p.Tunnel = TunnelKind.Vxlan;
        p.Vni = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref f, 46))) >> 8;
        p.InnerL2 = 50;
        p.InnerL3 = (ushort)l3;
        p.InnerL4 = (ushort)l4;
        p.L3End = (ushort)innerEnd;
        p.EtherType = innerType;
        p.L4Protocol = protocol;
        p.SrcPort = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, l4)));
        p.DstPort = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, l4 + 2)));
        p.Flags = PacketFlags.Tunneled | PacketFlags.HasIp | PacketFlags.HasL4 | (ipv6 ? PacketFlags.Ipv6 : 0);
        // IPv4 hashes from the addresses already at hand; the IPv6 hash reads its own.
        p.FlowHash = ipv6 ? FlowHash.Compute(frame, in p)
            : FlowHash.V4(BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref f, l3 + 12))),
                BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref f, l3 + 16))), p.SrcPort, p.DstPort, protocol);
        return true;
    }

    /// <summary>The general parser alone, for the differential test of the common-case pass.</summary>
    internal static DropReason ParseGeneral(ReadOnlySpan<byte> frame, out ParsedPacket p) => ParseLayers(frame, out p);
}
