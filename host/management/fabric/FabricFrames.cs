using System.Buffers.Binary;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Management.Fabric;

/// <summary>
/// The frames the fabric's endpoints send and read: VXLAN to the VIP as a VM's host (outbound) or a
/// remote host (inbound) sends them, a TCP segment inside whose payload carries the census tag
/// (connection id, step, attempt), and the reading of what the cards send back.
/// </summary>
internal static class FabricFrames
{
    public const uint TagMagic = 0x534E4943; // "SNIC"
    public const int TagLength = 16;
    private const ushort ServerPort = 443;

    /// <summary>
    /// Writes step <paramref name="step"/> of connection <paramref name="id"/>: even steps from the
    /// VM (outbound), odd steps from the remote VM (inbound); step 0 is the SYN, 1 the SYN-ACK, then
    /// data both ways. Returns the frame's length.
    /// </summary>
    public static int Write(Span<byte> frame, FabricEni eni, FabricVm remote, ushort clientPort, uint id, int step, int attempt)
    {
        bool fromVm = step % 2 == 0;
        const int outer = HeaderWriter.EthernetLength + HeaderWriter.Ipv4Length + HeaderWriter.UdpLength + HeaderWriter.VxlanLength;
        Span<byte> vmMac = stackalloc byte[6];
        Span<byte> remoteMac = stackalloc byte[6];
        Mac(vmMac, eni.Vm.Mac);
        Mac(remoteMac, remote.Mac);
        Span<byte> inner = frame[outer..];
        int off = HeaderWriter.Ethernet(inner, fromVm ? remoteMac : vmMac, fromVm ? vmMac : remoteMac, EtherTypes.Ipv4);
        int l3 = off;
        int l4Length = HeaderWriter.TcpLength + TagLength;
        off += HeaderWriter.Ipv4(inner[off..], fromVm ? eni.Vm.Ca : remote.Ca, fromVm ? remote.Ca : eni.Vm.Ca, IpProtocols.Tcp, l4Length, id: (ushort)step);
        int l4 = off;
        TcpFlags flags = step switch { 0 => TcpFlags.Syn, 1 => TcpFlags.Syn | TcpFlags.Ack, _ => TcpFlags.Psh | TcpFlags.Ack };
        uint seq = (uint)(id * 7919 + step * TagLength);
        off += HeaderWriter.Tcp(inner[off..], fromVm ? clientPort : ServerPort, fromVm ? ServerPort : clientPort, seq, step == 0 ? 0 : seq - 1, flags);
        Span<byte> tag = inner.Slice(off, TagLength);
        BinaryPrimitives.WriteUInt32BigEndian(tag, TagMagic);
        BinaryPrimitives.WriteUInt32BigEndian(tag[4..], id);
        BinaryPrimitives.WriteInt32BigEndian(tag[8..], step);
        BinaryPrimitives.WriteInt32BigEndian(tag[12..], attempt);
        off += TagLength;
        HeaderWriter.FinishL4Checksum(inner[l3..], inner[l4..off], ipv6: false, IpProtocols.Tcp);

        Span<byte> hostMac = stackalloc byte[6];
        Span<byte> torMac = stackalloc byte[6];
        Mac(hostMac, 0x02_00_00_00_0F_01);
        Mac(torMac, 0x02_00_00_00_0F_FE);
        int o = HeaderWriter.Ethernet(frame, torMac, hostMac, EtherTypes.Ipv4);
        int udpLength = HeaderWriter.UdpLength + HeaderWriter.VxlanLength + off;
        o += HeaderWriter.Ipv4(frame[o..], fromVm ? eni.Vm.Pa : remote.Pa, eni.Vip, IpProtocols.Udp, udpLength);
        o += HeaderWriter.Udp(frame[o..], (ushort)(49152 | (id & 0x3FFF)), TunnelPorts.Vxlan, udpLength - HeaderWriter.UdpLength);
        HeaderWriter.Vxlan(frame[o..], fromVm ? eni.OutboundVni : eni.InboundVni);
        return outer + off;
    }

    /// <summary>The outer IPv4 destination of an Ethernet/IPv4 frame; false when it is not one.</summary>
    public static bool TryOuterDestination(ReadOnlySpan<byte> frame, out uint destination)
    {
        destination = 0;
        if (frame.Length < 34 || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != EtherTypes.Ipv4 || frame[14] >> 4 != 4)
        {
            return false;
        }

        destination = BinaryPrimitives.ReadUInt32BigEndian(frame[30..]);
        return true;
    }

    /// <summary>The census tag inside a VXLAN-in-IPv4 frame carrying TCP-in-IPv4; false when the frame is not one of ours.</summary>
    public static bool TryReadTag(ReadOnlySpan<byte> frame, out uint id, out int step, out int attempt)
    {
        id = 0;
        step = attempt = 0;
        if (!TryOuterDestination(frame, out _))
        {
            return false;
        }

        int ihl = (frame[14] & 0xF) * 4;
        int innerEth = 14 + ihl + HeaderWriter.UdpLength + HeaderWriter.VxlanLength;
        if (frame.Length < innerEth + 34 || frame[14 + 9] != IpProtocols.Udp)
        {
            return false;
        }

        ReadOnlySpan<byte> inner = frame[innerEth..];
        if (BinaryPrimitives.ReadUInt16BigEndian(inner[12..]) != EtherTypes.Ipv4 || inner[14 + 9] != IpProtocols.Tcp)
        {
            return false;
        }

        int innerIhl = (inner[14] & 0xF) * 4;
        int tcp = 14 + innerIhl;
        if (inner.Length < tcp + 20)
        {
            return false;
        }

        int payload = tcp + (inner[tcp + 12] >> 4) * 4;
        if (inner.Length < payload + TagLength || BinaryPrimitives.ReadUInt32BigEndian(inner[payload..]) != TagMagic)
        {
            return false;
        }

        id = BinaryPrimitives.ReadUInt32BigEndian(inner[(payload + 4)..]);
        step = BinaryPrimitives.ReadInt32BigEndian(inner[(payload + 8)..]);
        attempt = BinaryPrimitives.ReadInt32BigEndian(inner[(payload + 12)..]);
        return true;
    }

    private static void Mac(Span<byte> dst, ulong mac)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dst, (ushort)(mac >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(dst[2..], (uint)mac);
    }
}
