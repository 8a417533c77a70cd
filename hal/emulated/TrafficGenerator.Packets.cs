using System.Buffers.Binary;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Hal.Emulated;

public sealed partial class TrafficGenerator
{
    private enum FlowKind : byte
    {
        Tcp,
        Udp,
        Icmp,
    }

    /// <summary>Everything about a flow, derived from its id.</summary>
    private readonly struct FlowShape
    {
        private static readonly ushort[] s_tcpServices = [443, 80, 8080, 22];
        // Services with no dissector in common analysers: the payload is filler, not DNS or NTP.
        private static readonly ushort[] s_udpServices = [5001, 7001, 9001, 30001];

        public readonly ulong Id;
        public readonly ulong Hash;
        public readonly FlowKind Kind;
        public readonly bool Ipv6;
        public readonly bool Overlay;
        public readonly int DataPackets;
        public readonly int TotalSteps;
        public readonly ushort ClientPort;
        public readonly ushort ServerPort;

        public FlowShape(ulong id, TrafficProfile profile)
        {
            Id = id;
            Hash = Mix(id ^ (profile.Seed * 0xD6E8FEB86659FD93UL));
            double kindDraw = (Hash & 0xFFFF) / 65536.0;
            Kind = kindDraw < profile.IcmpShare ? FlowKind.Icmp
                : kindDraw < profile.IcmpShare + profile.UdpShare ? FlowKind.Udp
                : FlowKind.Tcp;
            Ipv6 = profile.Dash is null && ((Hash >> 16) & 0xFFFF) / 65536.0 < profile.Ipv6Share;
            Overlay = profile.Dash is not null || ((Hash >> 32) & 0xFFFF) / 65536.0 < profile.OverlayShare;
            DataPackets = profile.DataPacketsPerFlow;
            TotalSteps = Kind == FlowKind.Tcp ? DataPackets + 6 : DataPackets;
            ClientPort = (ushort)(1024 + (Hash >> 48) % 64000);
            if (ClientPort is TunnelPorts.Vxlan or TunnelPorts.Geneve)
            {
                ClientPort++; // a reply to a tunnel port would be parsed as a tunnel
            }

            ServerPort = Kind == FlowKind.Tcp ? s_tcpServices[(Hash >> 40) & 3] : s_udpServices[(Hash >> 40) & 3];
        }

        public uint ClientV4 => 0x0A000000u | (uint)(Id & 0xFFFFFF);                 // 10.0.0.0/8

        public uint ServerV4 => 0xAC100000u | (uint)((Hash >> 20) & 0xFFFFF);        // 172.16.0.0/12

        public void ClientV6(Span<byte> dst)
        {
            BinaryPrimitives.WriteUInt64BigEndian(dst, 0xFD00000000010000UL);         // fd00:0:1::/64
            BinaryPrimitives.WriteUInt64BigEndian(dst[8..], Id);
        }

        public void ServerV6(Span<byte> dst)
        {
            BinaryPrimitives.WriteUInt64BigEndian(dst, 0xFD00000000020000UL);         // fd00:0:2::/64
            BinaryPrimitives.WriteUInt64BigEndian(dst[8..], Hash);
        }
    }

    private const int OverlayHeaderLength =
        HeaderWriter.EthernetLength + HeaderWriter.Ipv4Length + HeaderWriter.UdpLength + HeaderWriter.VxlanLength;

    private int WritePacket(Span<byte> frame, in FlowShape flow, int step)
    {
        (bool fromClient, TcpFlags flags, int payload, int dataIndex) = Plan(in flow, step);
        int inner = flow.Overlay ? OverlayHeaderLength : 0;
        int innerLength = WriteInner(frame[inner..], in flow, fromClient, flags, payload, step, dataIndex);
        if (flow.Overlay)
        {
            WriteOverlay(frame, in flow, fromClient, innerLength);
        }

        return inner + innerLength;
    }

    /// <summary>Direction, TCP flags and payload size of step <paramref name="step"/> of a flow.</summary>
    private (bool FromClient, TcpFlags Flags, int Payload, int DataIndex) Plan(in FlowShape flow, int step)
    {
        int payload = _profile.PayloadBytes;
        if (flow.Kind != FlowKind.Tcp)
        {
            return (step % 2 == 0, TcpFlags.None, payload, step);
        }

        int d = flow.DataPackets;
        return step switch
        {
            0 => (true, TcpFlags.Syn, 0, 0),
            1 => (false, TcpFlags.Syn | TcpFlags.Ack, 0, 0),
            2 => (true, TcpFlags.Ack, 0, 0),
            _ when step < 3 + d => ((step - 3) % 2 == 0, TcpFlags.Psh | TcpFlags.Ack, payload, step - 3),
            _ when step == 3 + d => (true, TcpFlags.Fin | TcpFlags.Ack, 0, d),
            _ when step == 4 + d => (false, TcpFlags.Fin | TcpFlags.Ack, 0, d),
            _ => (true, TcpFlags.Ack, 0, d),
        };
    }

    /// <summary>The DASH client (local VM) and server (remote VM) of a flow, when the profile has endpoints.</summary>
    private (DashVm Client, DashVm Server) DashPair(in FlowShape flow)
    {
        DashEndpoints d = _profile.Dash!;
        return (d.LocalVms[(int)(flow.Hash % (ulong)d.LocalVms.Count)], d.RemoteVms[(int)((flow.Hash >> 8) % (ulong)d.RemoteVms.Count)]);
    }

    private int WriteInner(Span<byte> frame, in FlowShape flow, bool fromClient, TcpFlags flags, int payload, int step, int dataIndex)
    {
        Span<byte> clientMac = stackalloc byte[6];
        Span<byte> serverMac = stackalloc byte[6];
        uint clientV4 = flow.ClientV4, serverV4 = flow.ServerV4;
        if (_profile.Dash is not null)
        {
            (DashVm client, DashVm server) = DashPair(in flow);
            BinaryPrimitives.WriteUInt16BigEndian(clientMac, (ushort)(client.Mac >> 32));
            BinaryPrimitives.WriteUInt32BigEndian(clientMac[2..], (uint)client.Mac);
            BinaryPrimitives.WriteUInt16BigEndian(serverMac, (ushort)(server.Mac >> 32));
            BinaryPrimitives.WriteUInt32BigEndian(serverMac[2..], (uint)server.Mac);
            clientV4 = client.Ca;
            serverV4 = server.Ca;
        }
        else
        {
            WriteMac(clientMac, 0x00, flow.Id);
            WriteMac(serverMac, 0x01, flow.Hash);
        }

        byte protocol = flow.Kind switch
        {
            FlowKind.Tcp => IpProtocols.Tcp,
            FlowKind.Udp => IpProtocols.Udp,
            _ => flow.Ipv6 ? IpProtocols.Icmpv6 : IpProtocols.Icmp,
        };
        int l4Header = flow.Kind switch
        {
            FlowKind.Tcp => HeaderWriter.TcpLength,
            FlowKind.Udp => HeaderWriter.UdpLength,
            _ => HeaderWriter.IcmpLength,
        };
        int l4Length = l4Header + payload;

        int off = HeaderWriter.Ethernet(frame, fromClient ? serverMac : clientMac, fromClient ? clientMac : serverMac,
            flow.Ipv6 ? EtherTypes.Ipv6 : EtherTypes.Ipv4);
        int l3 = off;
        if (flow.Ipv6)
        {
            Span<byte> c = stackalloc byte[16];
            Span<byte> s = stackalloc byte[16];
            flow.ClientV6(c);
            flow.ServerV6(s);
            off += HeaderWriter.Ipv6(frame[off..], fromClient ? c : s, fromClient ? s : c, protocol, l4Length);
        }
        else
        {
            off += HeaderWriter.Ipv4(frame[off..], fromClient ? clientV4 : serverV4,
                fromClient ? serverV4 : clientV4, protocol, l4Length, id: (ushort)step);
        }

        int l4 = off;
        ushort srcPort = fromClient ? flow.ClientPort : flow.ServerPort;
        ushort dstPort = fromClient ? flow.ServerPort : flow.ClientPort;
        switch (flow.Kind)
        {
            case FlowKind.Tcp:
                uint clientIsn = (uint)flow.Hash;
                uint serverIsn = (uint)(flow.Hash >> 32);
                uint sent = (uint)((dataIndex + 1) / 2 * payload);
                uint seq = fromClient ? clientIsn + 1 + sent : serverIsn + 1 + sent;
                uint ack = (flags & TcpFlags.Ack) == 0 ? 0 : fromClient ? serverIsn + 1 + sent : clientIsn + 1 + sent;
                if (flags == TcpFlags.Syn)
                {
                    seq = clientIsn;
                }
                else if (flags == (TcpFlags.Syn | TcpFlags.Ack))
                {
                    seq = serverIsn;
                }

                off += HeaderWriter.Tcp(frame[off..], srcPort, dstPort, seq, ack, flags);
                break;
            case FlowKind.Udp:
                off += HeaderWriter.Udp(frame[off..], srcPort, dstPort, payload);
                break;
            default:
                byte type = flow.Ipv6 ? (fromClient ? (byte)128 : (byte)129) : (fromClient ? (byte)8 : (byte)0);
                off += HeaderWriter.IcmpEcho(frame[off..], type, flow.ClientPort, (ushort)(step / 2));
                break;
        }

        frame.Slice(off, payload).Fill((byte)('a' + (step % 26)));
        off += payload;
        HeaderWriter.FinishL4Checksum(frame[l3..], frame[l4..off], flow.Ipv6, protocol);
        return off;
    }

    /// <summary>
    /// Outer headers as the appliance receives overlay traffic: from the sending host's PA to the
    /// VIP, UDP source port from the inner flow hash (ECMP entropy), UDP checksum 0 as RFC 7348
    /// allows over IPv4.
    /// </summary>
    private void WriteOverlay(Span<byte> frame, in FlowShape flow, bool fromClient, int innerLength)
    {
        Span<byte> applianceMac = stackalloc byte[6];
        Span<byte> routerMac = stackalloc byte[6];
        WriteMac(applianceMac, 0xAA, 1);
        WriteMac(routerMac, 0xBB, 1);
        uint clientPa = 0x64410000u | (uint)(flow.Id & 0xFFFF);          // 100.65.0.0/16: hosts of the VMs
        uint serverPa = 0x64420000u | (uint)((flow.Hash >> 8) & 0xFFFF); // 100.66.0.0/16: remote hosts
        uint vni = _profile.Vni;
        if (_profile.Dash is { } dash)
        {
            (DashVm client, DashVm server) = DashPair(in flow);
            clientPa = client.Pa;
            serverPa = server.Pa;
            vni = fromClient ? dash.OutboundVni : dash.InboundVni;
        }

        int off = HeaderWriter.Ethernet(frame, applianceMac, routerMac, EtherTypes.Ipv4);
        int udpLength = HeaderWriter.UdpLength + HeaderWriter.VxlanLength + innerLength;
        off += HeaderWriter.Ipv4(frame[off..], fromClient ? clientPa : serverPa, _profile.Vip, IpProtocols.Udp, udpLength);
        ushort entropy = (ushort)(49152 | ((flow.Hash >> 12) & 0x3FFF));
        off += HeaderWriter.Udp(frame[off..], entropy, TunnelPorts.Vxlan, udpLength - HeaderWriter.UdpLength);
        HeaderWriter.Vxlan(frame[off..], vni);
    }
}
