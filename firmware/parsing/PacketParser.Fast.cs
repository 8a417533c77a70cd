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
        if (totalLength < 40 || totalLength > frame.Length - 14 || (fragment & 0x3FFF) != 0
            || protocol is not (IpProtocols.Tcp or IpProtocols.Udp)
            || !InternetChecksum.VerifyIpv4Header(frame.Slice(14, 20)))
        {
            return false;
        }

        ushort srcPort = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, 34)));
        ushort dstPort = BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref f, 36)));
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
            if (udpLength < 8 || udpLength > l4Available || dstPort is TunnelPorts.Vxlan or TunnelPorts.Geneve)
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

    /// <summary>The general parser alone, for the differential test of the common-case pass.</summary>
    internal static DropReason ParseGeneral(ReadOnlySpan<byte> frame, out ParsedPacket p) => ParseLayers(frame, out p);
}
