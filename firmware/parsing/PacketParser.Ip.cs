using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Firmware.Parsing;

public static partial class PacketParser
{
    private const int MaxIpv6Extensions = 8;

    /// <summary>
    /// Parses the IP header at <paramref name="l3"/>. On success <paramref name="l4"/> is the
    /// offset of the upper-layer header (0 when there is none to parse: a non-first fragment or
    /// "no next header") and <paramref name="l3End"/> the end of the IP packet.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DropReason ParseIp(ReadOnlySpan<byte> frame, int l3, ushort etherType, bool inner, ref ParsedPacket p,
        out int l4, out byte protocol, out int l3End)
    {
        return etherType == EtherTypes.Ipv4
            ? ParseIpv4(frame, l3, inner, ref p, out l4, out protocol, out l3End)
            : ParseIpv6(frame, l3, inner, ref p, out l4, out protocol, out l3End);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DropReason ParseIpv4(ReadOnlySpan<byte> frame, int l3, bool inner, ref ParsedPacket p,
        out int l4, out byte protocol, out int l3End)
    {
        l4 = 0;
        protocol = 0;
        l3End = 0;
        int available = frame.Length - l3;
        if (available < HeaderWriter.Ipv4Length)
        {
            return DropReason.Ipv4Truncated;
        }

        ReadOnlySpan<byte> ip = frame[l3..];
        if (ip[0] >> 4 != 4)
        {
            return DropReason.Ipv4BadVersion;
        }

        int headerLength = (ip[0] & 0x0F) * 4;
        if (headerLength < HeaderWriter.Ipv4Length)
        {
            return DropReason.Ipv4BadHeaderLength;
        }

        if (headerLength > available)
        {
            return DropReason.Ipv4Truncated;
        }

        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (totalLength < headerLength || totalLength > available)
        {
            return DropReason.Ipv4BadTotalLength;
        }

        if (!InternetChecksum.VerifyIpv4Header(ip[..headerLength]))
        {
            return DropReason.Ipv4BadChecksum;
        }

        if (headerLength > HeaderWriter.Ipv4Length)
        {
            if (!Ipv4OptionsValid(ip[HeaderWriter.Ipv4Length..headerLength]))
            {
                return DropReason.Ipv4BadOptions;
            }

            p.Flags |= PacketFlags.Ipv4Options;
        }

        protocol = ip[9];
        l3End = l3 + totalLength;
        ushort fragment = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        bool moreFragments = (fragment & 0x2000) != 0;
        int fragmentOffset = fragment & 0x1FFF;
        if (moreFragments || fragmentOffset != 0)
        {
            p.Flags |= PacketFlags.Fragment;
        }

        l4 = l3 + headerLength;
        if (fragmentOffset != 0)
        {
            p.Flags |= PacketFlags.NonFirstFragment;
            SetL3(ref p, inner, l3, 0, protocol, l3End, EtherTypes.Ipv4);
            l4 = 0;
            return DropReason.None;
        }

        SetL3(ref p, inner, l3, l4, protocol, l3End, EtherTypes.Ipv4);
        return DropReason.None;
    }

    /// <summary>Walks IPv4 options (RFC 791): EOL ends the list, NOP is one byte, others are TLVs with length ≥ 2.</summary>
    private static bool Ipv4OptionsValid(ReadOnlySpan<byte> options)
    {
        int i = 0;
        while (i < options.Length)
        {
            byte type = options[i];
            if (type == 0)
            {
                return true;
            }

            if (type == 1)
            {
                i++;
                continue;
            }

            if (i + 1 >= options.Length)
            {
                return false;
            }

            int length = options[i + 1];
            if (length < 2 || i + length > options.Length)
            {
                return false;
            }

            i += length;
        }

        return true;
    }

    private static DropReason ParseIpv6(ReadOnlySpan<byte> frame, int l3, bool inner, ref ParsedPacket p,
        out int l4, out byte protocol, out int l3End)
    {
        l4 = 0;
        protocol = 0;
        l3End = 0;
        if (frame.Length - l3 < HeaderWriter.Ipv6Length)
        {
            return DropReason.Ipv6Truncated;
        }

        ReadOnlySpan<byte> ip = frame[l3..];
        if (ip[0] >> 4 != 6)
        {
            return DropReason.Ipv6BadVersion;
        }

        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
        // Payload length 0 means a jumbogram (RFC 2675), which no port here can carry.
        if (payloadLength == 0 && ip[6] != IpProtocols.NoNextHeader || HeaderWriter.Ipv6Length + payloadLength > ip.Length)
        {
            return DropReason.Ipv6BadPayloadLength;
        }

        p.Flags |= inner ? PacketFlags.Ipv6 : PacketFlags.Ipv6 | PacketFlags.OuterIpv6;
        l3End = l3 + HeaderWriter.Ipv6Length + payloadLength;
        ReadOnlySpan<byte> packet = frame[..l3End];
        byte next = ip[6];
        int off = l3 + HeaderWriter.Ipv6Length;
        for (int count = 0; ; count++)
        {
            if (count > MaxIpv6Extensions)
            {
                return DropReason.Ipv6TooManyExtensions;
            }

            int length;
            switch (next)
            {
                case IpProtocols.HopByHop:
                    if (count != 0)
                    {
                        return DropReason.Ipv6MisplacedHopByHop; // RFC 8200 §4.1: only right after the header
                    }

                    goto case IpProtocols.Ipv6DestinationOptions;
                case IpProtocols.Ipv6Routing:
                case IpProtocols.Ipv6DestinationOptions:
                    if (packet.Length - off < 8)
                    {
                        return DropReason.Ipv6ExtensionTruncated;
                    }

                    length = (packet[off + 1] + 1) * 8;
                    break;
                case IpProtocols.AuthenticationHeader:
                    if (packet.Length - off < 8)
                    {
                        return DropReason.Ipv6ExtensionTruncated;
                    }

                    length = (packet[off + 1] + 2) * 4;
                    break;
                case IpProtocols.Ipv6Fragment:
                    if (packet.Length - off < 8)
                    {
                        return DropReason.Ipv6ExtensionTruncated;
                    }

                    length = 8;
                    p.Flags |= PacketFlags.Fragment;
                    if ((BinaryPrimitives.ReadUInt16BigEndian(packet[(off + 2)..]) & 0xFFF8) != 0)
                    {
                        p.Flags |= PacketFlags.NonFirstFragment | PacketFlags.Ipv6Extensions;
                        SetL3(ref p, inner, l3, 0, packet[off], l3End, EtherTypes.Ipv6);
                        protocol = packet[off];
                        return DropReason.None;
                    }

                    break;
                case IpProtocols.NoNextHeader:
                    SetL3(ref p, inner, l3, 0, next, l3End, EtherTypes.Ipv6);
                    protocol = next;
                    return DropReason.None;
                default:
                    // An upper-layer protocol.
                    protocol = next;
                    l4 = off;
                    SetL3(ref p, inner, l3, l4, protocol, l3End, EtherTypes.Ipv6);
                    return DropReason.None;
            }

            if (length > packet.Length - off)
            {
                return DropReason.Ipv6ExtensionTruncated;
            }

            p.Flags |= PacketFlags.Ipv6Extensions;
            next = packet[off];
            off += length;
        }
    }
}
