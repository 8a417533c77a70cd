using Xunit;
using System.Buffers.Binary;
using System.Net;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Tests.Firmware.Pipeline;

/// <summary>Builds VXLAN overlay frames for pipeline tests (the scapy test covers independent construction).</summary>
internal static class Overlay
{
    public static readonly byte[] ApplianceMac = Mac("02:00:00:00:01:00");
    public static readonly byte[] EniMac = Mac("00:cc:cc:cc:cc:cc");
    public static readonly byte[] GatewayMac = Mac("00:ee:ee:ee:ee:ee");

    public static byte[] Mac(string text) => text.Split(':').Select(b => Convert.ToByte(b, 16)).ToArray();

    public static uint V4(string ip) => BinaryPrimitives.ReadUInt32BigEndian(IPAddress.Parse(ip).GetAddressBytes());

    /// <summary>Outer Ethernet/IPv4/UDP/VXLAN around an inner Ethernet/IP/L4 frame.</summary>
    public static byte[] Vxlan(string outerSrc, string outerDst, uint vni, byte[] inner, ushort outerSrcPort = 50000)
    {
        var f = new byte[50 + inner.Length];
        int o = HeaderWriter.Ethernet(f, ApplianceMac, Mac("02:00:00:00:00:99"), EtherTypes.Ipv4);
        o += HeaderWriter.Ipv4(f.AsSpan(o), V4(outerSrc), V4(outerDst), IpProtocols.Udp, 16 + inner.Length, ttl: 63);
        o += HeaderWriter.Udp(f.AsSpan(o), outerSrcPort, TunnelPorts.Vxlan, 8 + inner.Length);
        o += HeaderWriter.Vxlan(f.AsSpan(o), vni);
        inner.CopyTo(f, o);
        return f;
    }

    /// <summary>Inner Ethernet + IPv4 or IPv6 + UDP/TCP/ICMP with correct checksums.</summary>
    public static byte[] Inner(byte[] srcMac, byte[] dstMac, string src, string dst, byte protocol, ushort sport, ushort dport,
        TcpFlags tcp = TcpFlags.Syn, int payload = 18)
    {
        IPAddress s = IPAddress.Parse(src), d = IPAddress.Parse(dst);
        bool v6 = s.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        int l4Len = (protocol == IpProtocols.Tcp ? 20 : 8) + payload;
        int l3Len = v6 ? 40 : 20;
        var f = new byte[14 + l3Len + l4Len];
        HeaderWriter.Ethernet(f, dstMac, srcMac, v6 ? EtherTypes.Ipv6 : EtherTypes.Ipv4);
        Span<byte> l3 = f.AsSpan(14);
        if (v6)
        {
            HeaderWriter.Ipv6(l3, s.GetAddressBytes(), d.GetAddressBytes(), protocol, l4Len);
        }
        else
        {
            HeaderWriter.Ipv4(l3, V4(src), V4(dst), protocol, l4Len);
        }

        Span<byte> l4 = f.AsSpan(14 + l3Len);
        switch (protocol)
        {
            case IpProtocols.Tcp:
                HeaderWriter.Tcp(l4, sport, dport, 1000, tcp.HasFlag(TcpFlags.Ack) ? 1u : 0u, tcp);
                break;
            case IpProtocols.Udp:
                HeaderWriter.Udp(l4, sport, dport, payload);
                break;
            default:
                HeaderWriter.IcmpEcho(l4, v6 ? (byte)128 : (byte)8, sport, dport);
                break;
        }

        for (int i = l4.Length - payload; i < l4.Length; i++)
        {
            l4[i] = (byte)i;
        }

        HeaderWriter.FinishL4Checksum(l3, l4, v6, protocol);
        return f;
    }

    /// <summary>An outbound UDP packet from the VM behind eni1 (00:cc:cc:cc:cc:cc, 10.1.1.10) with VM VNI 100.</summary>
    public static byte[] FromVm(string dst, ushort sport = 10000, ushort dport = 20000, byte protocol = IpProtocols.Udp, TcpFlags tcp = TcpFlags.Syn,
        string src = "10.1.1.10", byte[]? srcMac = null, string vip = "172.16.1.100") =>
        Vxlan("172.16.1.1", vip, 100, Inner(srcMac ?? EniMac, GatewayMac, src, dst, protocol, sport, dport, tcp));
}
