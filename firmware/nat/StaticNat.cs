using System.Buffers.Binary;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Firmware.Nat;

/// <summary>
/// Static 1:1 NAT of an inner IPv4 address (DASH's use: fenced clones of an application keep
/// their parent's addresses). The IPv4 header checksum and the TCP/UDP checksum (whose pseudo
/// header covers the address) are updated incrementally (RFC 1624) rather than recomputed, so the
/// cost does not depend on the payload size. A UDP checksum of zero means "none" and stays zero;
/// a computed zero is sent as 0xFFFF (RFC 768).
/// </summary>
public static class StaticNat
{
    /// <summary>Rewrites the source (<paramref name="source"/> true) or destination address of the IPv4 packet at <paramref name="l3"/>.</summary>
    public static void Rewrite(Span<byte> frame, int l3, int l4, byte protocol, bool hasL4, bool source, uint newAddress)
    {
        Span<byte> field = frame.Slice(l3 + (source ? 12 : 16), 4);
        uint old = BinaryPrimitives.ReadUInt32BigEndian(field);
        if (old == newAddress)
        {
            return;
        }

        BinaryPrimitives.WriteUInt32BigEndian(field, newAddress);
        Span<byte> ipChecksum = frame.Slice(l3 + 10, 2);
        BinaryPrimitives.WriteUInt16BigEndian(ipChecksum, InternetChecksum.Update32(BinaryPrimitives.ReadUInt16BigEndian(ipChecksum), old, newAddress));
        if (!hasL4)
        {
            return;
        }

        int at = protocol switch
        {
            IpProtocols.Tcp => l4 + 16,
            IpProtocols.Udp => l4 + 6,
            _ => -1, // ICMP's checksum has no pseudo header
        };
        if (at < 0 || at + 2 > frame.Length)
        {
            return;
        }

        ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(frame[at..]);
        if (protocol == IpProtocols.Udp && checksum == 0)
        {
            return;
        }

        ushort updated = InternetChecksum.Update32(checksum, old, newAddress);
        if (protocol == IpProtocols.Udp && updated == 0)
        {
            updated = 0xFFFF;
        }

        BinaryPrimitives.WriteUInt16BigEndian(frame[at..], updated);
    }
}
