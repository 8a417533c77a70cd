using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Firmware.Parsing;

/// <summary>
/// Parses a frame into <see cref="ParsedPacket"/>: Ethernet (802.1Q, QinQ), ARP, IPv4 (options,
/// fragments), IPv6 (extension headers), TCP, UDP, ICMP, ICMPv6, and one level of tunnel (VXLAN,
/// GENEVE with options, NVGRE/GRE) with the inner Ethernet/IP/L4 headers.
/// </summary>
/// <remarks>
/// Every read goes through a span bounded by the frame (or by the IP packet's own length once that
/// is known), so a malformed frame can only produce a <see cref="DropReason"/>: the parser never
/// throws and never reads past the data it was given. Tunnels are followed only from the outer
/// packet: VXLAN inside VXLAN is parsed as plain inner UDP.
/// </remarks>
public static partial class PacketParser
{
    private const int MaxVlanTags = 2;

    /// <summary>Parses <paramref name="frame"/>; returns <see cref="DropReason.None"/> when usable.</summary>
    public static DropReason Parse(ReadOnlySpan<byte> frame, out ParsedPacket p) =>
        (LooksLikeVxlan(frame) ? TryParseVxlan(frame, out p) : TryParseCommon(frame, out p)) ? DropReason.None : ParseLayers(frame, out p);

    // Which one-pass parser to try: UDP to port 4789 where an option-less IPv4 header puts them.
    // Each pass refuses what the other accepts, so trying only one of them loses nothing; an
    // overlay-carrying appliance sees mostly VXLAN and skips the plain pass's checks.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool LooksLikeVxlan(ReadOnlySpan<byte> frame) =>
        frame.Length > 37 && frame[23] == IpProtocols.Udp && BinaryPrimitives.ReadUInt16BigEndian(frame[36..]) == TunnelPorts.Vxlan;

    private static DropReason ParseLayers(ReadOnlySpan<byte> frame, out ParsedPacket p)
    {
        p = default;
        int off = 0;
        bool inner = false;
        DropReason r = ParseEthernet(frame, ref off, ref p, inner, out ushort etherType);
        while (r == DropReason.None)
        {
            // off is at an L3 header of type etherType; parse it and its L4.
            if (etherType == EtherTypes.Arp)
            {
                if (frame.Length - off < 28)
                {
                    return DropReason.ArpTruncated;
                }

                p.Flags |= PacketFlags.Arp;
                p.EtherType = etherType;
                return DropReason.None;
            }

            r = ParseIp(frame, off, etherType, inner, ref p, out int l4, out byte protocol, out int l3End);
            if (r != DropReason.None || l4 == 0)
            {
                break;
            }

            r = ParseL4(frame[..l3End], l4, protocol, ref p);
            if (r != DropReason.None || inner)
            {
                break;
            }

            // Outer L4 parsed: follow a tunnel, if this is one.
            r = ParseTunnel(frame[..l3End], l4, protocol, ref p, out int next, out bool nextIsL2, out etherType);
            if (r != DropReason.None || next == 0)
            {
                break;
            }

            inner = true;
            p.Flags |= PacketFlags.Tunneled;
            p.Flags &= ~(PacketFlags.HasL4 | PacketFlags.Ipv6 | PacketFlags.Fragment | PacketFlags.NonFirstFragment | PacketFlags.HasIp);
            p.SrcPort = 0;
            p.DstPort = 0;
            p.TcpFlags = 0;
            off = next;
            if (nextIsL2)
            {
                p.InnerL2 = (ushort)off;
                frame = frame[..l3End];
                r = ParseEthernet(frame, ref off, ref p, inner, out etherType);
            }
            else
            {
                frame = frame[..l3End];
            }
        }

        if (r == DropReason.None && (p.Flags & PacketFlags.HasIp) != 0)
        {
            p.FlowHash = FlowHash.Compute(frame, in p);
        }

        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DropReason ParseEthernet(ReadOnlySpan<byte> frame, ref int off, ref ParsedPacket p, bool inner, out ushort etherType)
    {
        etherType = 0;
        if (frame.Length - off < HeaderWriter.EthernetLength)
        {
            return DropReason.EthernetTruncated;
        }

        etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[(off + 12)..]);
        off += HeaderWriter.EthernetLength;
        int tags = 0;
        while (etherType is EtherTypes.Vlan or EtherTypes.QinQ or EtherTypes.QinQLegacy)
        {
            if (++tags > MaxVlanTags)
            {
                return DropReason.VlanTooManyTags;
            }

            if (frame.Length - off < 4)
            {
                return DropReason.VlanTruncated;
            }

            ushort vid = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(frame[off..]) & 0x0FFF);
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[(off + 2)..]);
            off += 4;
            if (inner)
            {
                p.Flags |= PacketFlags.InnerVlan;
            }
            else if (tags == 1)
            {
                p.OuterVlan = vid;
            }
            else
            {
                p.OuterInnerVlan = vid;
            }
        }

        if (etherType is not (EtherTypes.Ipv4 or EtherTypes.Ipv6 or EtherTypes.Arp))
        {
            return DropReason.UnsupportedEtherType;
        }

        return DropReason.None;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DropReason ParseL4(ReadOnlySpan<byte> packet, int l4, byte protocol, ref ParsedPacket p)
    {
        int available = packet.Length - l4;
        switch (protocol)
        {
            case IpProtocols.Tcp:
            {
                if (available < HeaderWriter.TcpLength)
                {
                    return DropReason.TcpTruncated;
                }

                int dataOffset = (packet[l4 + 12] >> 4) * 4;
                if (dataOffset < HeaderWriter.TcpLength || dataOffset > available)
                {
                    return DropReason.TcpBadDataOffset;
                }

                p.SrcPort = BinaryPrimitives.ReadUInt16BigEndian(packet[l4..]);
                p.DstPort = BinaryPrimitives.ReadUInt16BigEndian(packet[(l4 + 2)..]);
                p.TcpFlags = packet[l4 + 13];
                break;
            }

            case IpProtocols.Udp:
            {
                if (available < HeaderWriter.UdpLength)
                {
                    return DropReason.UdpTruncated;
                }

                int length = BinaryPrimitives.ReadUInt16BigEndian(packet[(l4 + 4)..]);
                if (length < HeaderWriter.UdpLength || length > available)
                {
                    return DropReason.UdpBadLength;
                }

                p.SrcPort = BinaryPrimitives.ReadUInt16BigEndian(packet[l4..]);
                p.DstPort = BinaryPrimitives.ReadUInt16BigEndian(packet[(l4 + 2)..]);
                break;
            }

            case IpProtocols.Icmp:
            case IpProtocols.Icmpv6:
            {
                if (available < 8)
                {
                    return DropReason.IcmpTruncated;
                }

                // Echo request and reply share the identifier: use it as both "ports" so the two
                // directions of a ping are one flow.
                byte type = packet[l4];
                if (type is 0 or 8 or 128 or 129)
                {
                    ushort id = BinaryPrimitives.ReadUInt16BigEndian(packet[(l4 + 4)..]);
                    p.SrcPort = id;
                    p.DstPort = id;
                }

                break;
            }

            default:
                // Another protocol (ESP, SCTP, ...): no ports, not malformed.
                return DropReason.None;
        }

        p.Flags |= PacketFlags.HasL4;
        return DropReason.None;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetL3(ref ParsedPacket p, bool inner, int l3, int l4, byte protocol, int l3End, ushort etherType)
    {
        if (inner)
        {
            p.InnerL3 = (ushort)l3;
            p.InnerL4 = (ushort)l4;
        }
        else
        {
            p.OuterL3 = (ushort)l3;
            p.OuterL4 = (ushort)l4;
            p.OuterL4Protocol = protocol;
        }

        p.L4Protocol = protocol;
        p.L3End = (ushort)l3End;
        p.EtherType = etherType;
        p.Flags |= PacketFlags.HasIp;
    }
}
