using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Firmware.Parsing;

public static partial class PacketParser
{
    private const int GeneveBaseLength = 8;
    private const int GreBaseLength = 4;

    /// <summary>
    /// Recognises a tunnel after the outer L4 header. On success with a tunnel, <paramref name="next"/>
    /// is where the inner packet starts and says whether it starts with Ethernet or directly with IP
    /// (then <paramref name="innerEtherType"/> names it). <paramref name="next"/> = 0: not a tunnel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DropReason ParseTunnel(ReadOnlySpan<byte> packet, int l4, byte protocol, ref ParsedPacket p,
        out int next, out bool nextIsL2, out ushort innerEtherType)
    {
        next = 0;
        nextIsL2 = false;
        innerEtherType = 0;
        if (protocol == IpProtocols.Udp && (p.Flags & PacketFlags.HasL4) != 0)
        {
            int payload = l4 + HeaderWriter.UdpLength;
            int udpEnd = l4 + BinaryPrimitives.ReadUInt16BigEndian(packet[(l4 + 4)..]);
            if (p.DstPort == TunnelPorts.Vxlan)
            {
                return ParseVxlan(packet[..udpEnd], payload, ref p, out next, out nextIsL2);
            }

            if (p.DstPort == TunnelPorts.Geneve)
            {
                return ParseGeneve(packet[..udpEnd], payload, ref p, out next, out nextIsL2, out innerEtherType);
            }

            return DropReason.None;
        }

        if (protocol == IpProtocols.Gre)
        {
            return ParseGre(packet, l4, ref p, out next, out nextIsL2, out innerEtherType);
        }

        return DropReason.None;
    }

    /// <summary>VXLAN (RFC 7348): 8 bytes, I flag set, 24-bit VNI, then an Ethernet frame.</summary>
    private static DropReason ParseVxlan(ReadOnlySpan<byte> packet, int off, ref ParsedPacket p, out int next, out bool nextIsL2)
    {
        next = 0;
        nextIsL2 = true;
        if (packet.Length - off < HeaderWriter.VxlanLength)
        {
            return DropReason.VxlanTruncated;
        }

        if ((packet[off] & 0x08) == 0)
        {
            return DropReason.VxlanBadFlags;
        }

        p.Tunnel = TunnelKind.Vxlan;
        p.TunnelHeader = (ushort)off;
        p.Vni = BinaryPrimitives.ReadUInt32BigEndian(packet[(off + 4)..]) >> 8;
        next = off + HeaderWriter.VxlanLength;
        return DropReason.None;
    }

    /// <summary>GENEVE (RFC 8926): version 0, options as TLVs that must exactly fill the option length.</summary>
    private static DropReason ParseGeneve(ReadOnlySpan<byte> packet, int off, ref ParsedPacket p,
        out int next, out bool nextIsL2, out ushort innerEtherType)
    {
        next = 0;
        nextIsL2 = false;
        innerEtherType = 0;
        if (packet.Length - off < GeneveBaseLength)
        {
            return DropReason.GeneveTruncated;
        }

        if (packet[off] >> 6 != 0)
        {
            return DropReason.GeneveBadVersion;
        }

        int optionsLength = (packet[off] & 0x3F) * 4;
        if (packet.Length - off - GeneveBaseLength < optionsLength)
        {
            return DropReason.GeneveTruncated;
        }

        int o = off + GeneveBaseLength;
        int end = o + optionsLength;
        while (o < end)
        {
            if (end - o < 4)
            {
                return DropReason.GeneveBadOptions;
            }

            int length = 4 + (packet[o + 3] & 0x1F) * 4;
            if (length > end - o)
            {
                return DropReason.GeneveBadOptions;
            }

            o += length;
        }

        if (optionsLength > 0)
        {
            p.Flags |= PacketFlags.GeneveOptions;
        }

        ushort protocolType = BinaryPrimitives.ReadUInt16BigEndian(packet[(off + 2)..]);
        if (!InnerPayload(protocolType, out nextIsL2, out innerEtherType))
        {
            return DropReason.TunnelUnsupportedPayload;
        }

        p.Tunnel = TunnelKind.Geneve;
        p.TunnelHeader = (ushort)off;
        p.Vni = BinaryPrimitives.ReadUInt32BigEndian(packet[(off + 4)..]) >> 8;
        next = end;
        return DropReason.None;
    }

    /// <summary>
    /// GRE (RFC 2784/2890) and NVGRE (RFC 7637: GRE with key, Ethernet payload, VSID in the key's
    /// upper 24 bits). Version must be 0; routing and recursion bits must be clear.
    /// </summary>
    private static DropReason ParseGre(ReadOnlySpan<byte> packet, int off, ref ParsedPacket p,
        out int next, out bool nextIsL2, out ushort innerEtherType)
    {
        next = 0;
        nextIsL2 = false;
        innerEtherType = 0;
        if (packet.Length - off < GreBaseLength)
        {
            return DropReason.GreTruncated;
        }

        byte flags = packet[off];
        byte version = (byte)(packet[off + 1] & 0x07);
        if (version != 0 || (flags & 0x4F) != 0 || (packet[off + 1] & 0xF8) != 0)
        {
            return DropReason.GreBadHeader;
        }

        bool hasChecksum = (flags & 0x80) != 0;
        bool hasKey = (flags & 0x20) != 0;
        bool hasSequence = (flags & 0x10) != 0;
        int length = GreBaseLength + (hasChecksum ? 4 : 0) + (hasKey ? 4 : 0) + (hasSequence ? 4 : 0);
        if (packet.Length - off < length)
        {
            return DropReason.GreTruncated;
        }

        ushort protocolType = BinaryPrimitives.ReadUInt16BigEndian(packet[(off + 2)..]);
        if (!InnerPayload(protocolType, out nextIsL2, out innerEtherType))
        {
            return DropReason.TunnelUnsupportedPayload;
        }

        p.TunnelHeader = (ushort)off;
        if (hasKey && nextIsL2)
        {
            p.Tunnel = TunnelKind.Nvgre;
            p.Vni = BinaryPrimitives.ReadUInt32BigEndian(packet[(off + GreBaseLength + (hasChecksum ? 4 : 0))..]) >> 8;
        }
        else
        {
            p.Tunnel = TunnelKind.Gre;
        }

        next = off + length;
        return DropReason.None;
    }

    private static bool InnerPayload(ushort protocolType, out bool isL2, out ushort etherType)
    {
        isL2 = protocolType == EtherTypes.TransparentEthernet;
        etherType = isL2 ? (ushort)0 : protocolType;
        return isL2 || protocolType is EtherTypes.Ipv4 or EtherTypes.Ipv6;
    }
}
