using SnicRuntime.Firmware;
using Xunit;
using System.Buffers.Binary;
using System.Text.Json.Nodes;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Tests.Firmware.Pipeline;

/// <summary>
/// The pipeline against examples/plans/full.json: outbound route actions, ACL stages, inbound
/// delivery with PA validation, NVGRE, ECMP, static NAT, metering, generations.
/// </summary>
public sealed class PipelineBehaviourTests : IDisposable
{
    private readonly PipelineHarness _h = new(PipelineHarness.PlanText("full.json"));

    public void Dispose() => _h.Dispose();

    private static uint Read32(byte[] f, int at) => BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(at));

    private static void AssertOuterVxlan(byte[] f, string dst, uint vni)
    {
        Assert.Equal(Overlay.V4("172.16.1.100"), Read32(f, 26));
        Assert.Equal(Overlay.V4(dst), Read32(f, 30));
        Assert.Equal(64, f[22]);
        Assert.Equal(IpProtocols.Udp, f[23]);
        Assert.True(InternetChecksum.VerifyIpv4Header(f.AsSpan(14, 20)), "outer IPv4 checksum");
        Assert.Equal(f.Length - 14, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(16)));
        Assert.Equal(TunnelPorts.Vxlan, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(36)));
        Assert.Equal(vni, Read32(f, 46) >> 8);
        Assert.Equal(Overlay.Mac("02:00:00:00:02:00"), f[..6]);
        Assert.Equal(Overlay.ApplianceMac, f[6..12]);
    }

    [Fact]
    public void Vnet_route_encapsulates_to_the_mapping_PA_with_the_VNET_VNI_and_rewrites_the_inner_MAC()
    {
        byte[] sent = Overlay.FromVm("10.1.2.50");
        byte[] f = _h.Forwarded(sent);
        AssertOuterVxlan(f, "172.16.1.20", 200);
        Assert.Equal(Overlay.Mac("00:dd:dd:dd:dd:dd"), f[50..56]);
        Assert.Equal(sent[56..], f[56..]); // rest of the inner frame untouched
    }

    [Theory]
    [InlineData("10.1.66.5", IpProtocols.Udp, 20000, DropReason.AclDeny)]     // stage 1 deny
    [InlineData("10.1.2.50", IpProtocols.Tcp, 23, DropReason.AclDeny)]        // stage 2 deny (telnet)
    [InlineData("1.1.1.1", IpProtocols.Udp, 20000, DropReason.AclDeny)]       // no rule in stage 1: default deny
    [InlineData("10.1.77.5", IpProtocols.Udp, 20000, DropReason.RouteDrop)]   // permitted, route action drop
    [InlineData("10.1.9.9", IpProtocols.Udp, 20000, DropReason.MappingMiss)]  // vnet route, no mapping
    public void Outbound_drops_say_why(string dst, byte protocol, int dport, DropReason expected)
    {
        var (output, _, reason) = _h.Run(Overlay.FromVm(dst, dport: (ushort)dport, protocol: protocol));
        Assert.Null(output);
        Assert.Equal(expected, reason);
    }

    [Fact]
    public void Deny_and_continue_is_overridden_by_a_later_permit()
    {
        // UDP/53 to 1.1.1.1: stage 1 deny-and-continue, stage 2 permit-and-continue, stage 3 permit.
        byte[] f = _h.Forwarded(Overlay.FromVm("1.1.1.1", dport: 53));
        Assert.Equal(Overlay.Mac("02:00:00:00:02:00"), f[..6]); // direct: inner frame to the next hop
    }

    [Fact]
    public void Direct_route_strips_the_outer_headers_and_addresses_the_next_hop()
    {
        byte[] sent = Overlay.FromVm("8.8.8.8", dport: 53);
        byte[] f = _h.Forwarded(sent);
        Assert.Equal(sent.Length - 50, f.Length);
        Assert.Equal(Overlay.Mac("02:00:00:00:02:00"), f[..6]);
        Assert.Equal(Overlay.ApplianceMac, f[6..12]);
        Assert.Equal(sent[62..], f[12..]);
    }

    [Fact]
    public void Vnet_direct_resolves_the_overridden_overlay_address()
    {
        AssertOuterVxlan(_h.Forwarded(Overlay.FromVm("10.3.0.9")), "172.16.1.20", 200);
    }

    [Fact]
    public void Nvgre_mapping_emits_GRE_with_the_VSID()
    {
        byte[] f = _h.Forwarded(Overlay.FromVm("10.1.2.60"));
        Assert.Equal(IpProtocols.Gre, f[23]);
        Assert.Equal(Overlay.V4("172.16.1.21"), Read32(f, 30));
        Assert.Equal(0x2000_6558u, Read32(f, 34));
        Assert.Equal(200u, Read32(f, 38) >> 8);
        Assert.True(InternetChecksum.VerifyIpv4Header(f.AsSpan(14, 20)));
        Assert.Equal(Overlay.Mac("00:dd:dd:dd:dd:60"), f[42..48]);
        Assert.Equal(DropReason.None, PacketParser.Parse(f, out ParsedPacket p));
        Assert.Equal(TunnelKind.Nvgre, p.Tunnel);
    }

    [Fact]
    public void Inbound_is_decapsulated_and_delivered_to_the_VM_host_with_the_VM_VNI()
    {
        byte[] inner = Overlay.Inner(Overlay.Mac("00:dd:dd:dd:dd:dd"), Overlay.EniMac, "10.1.2.50", "10.1.1.10", IpProtocols.Udp, 20000, 10000);
        byte[] f = _h.Forwarded(Overlay.Vxlan("172.16.1.20", "172.16.1.100", 200, inner));
        AssertOuterVxlan(f, "172.16.1.1", 100);
        Assert.Equal(inner, f[50..]);
        Assert.Equal(1, _h.Counters.Inbound);

        // The VM's reply hits the same flow and goes back to the sender's PA.
        byte[] reply = _h.Forwarded(Overlay.FromVm("10.1.2.50", sport: 10000, dport: 20000));
        AssertOuterVxlan(reply, "172.16.1.20", 200);
        Assert.Equal(1, _h.Counters.FlowsCreated);
        Assert.Equal(1, _h.Counters.FlowHits);
    }

    [Theory]
    [InlineData("172.16.9.9", 200u, DropReason.PaValidationFailed)] // in the prefix, not a PA of the VNET
    [InlineData("10.0.0.1", 200u, DropReason.InboundRouteMiss)]     // outside the underlay prefix
    [InlineData("172.16.1.20", 300u, DropReason.InboundRouteMiss)]  // VNI without a route
    public void Inbound_routing_and_PA_validation(string pa, uint vni, DropReason expected)
    {
        byte[] inner = Overlay.Inner(Overlay.Mac("00:dd:dd:dd:dd:dd"), Overlay.EniMac, "10.1.2.50", "10.1.1.10", IpProtocols.Udp, 20000, 10000);
        var (output, _, reason) = _h.Run(Overlay.Vxlan(pa, "172.16.1.100", vni, inner));
        Assert.Null(output);
        Assert.Equal(expected, reason);
    }

    [Fact]
    public void Inbound_acl_denies_what_its_stage_does_not_permit()
    {
        byte[] inner = Overlay.Inner(Overlay.Mac("00:dd:dd:dd:dd:dd"), Overlay.EniMac, "10.9.2.50", "10.1.1.10", IpProtocols.Udp, 20000, 10000);
        Assert.Equal(DropReason.AclDeny, _h.Run(Overlay.Vxlan("172.16.1.20", "172.16.1.100", 200, inner)).Reason);
    }

    [Fact]
    public void Classification_drops()
    {
        Assert.Equal(DropReason.NotToVip, _h.Run(Overlay.FromVm("10.1.2.50", vip: "172.16.1.99")).Reason);
        Assert.Equal(DropReason.UnknownEni, _h.Run(Overlay.FromVm("10.1.2.50", srcMac: Overlay.Mac("00:cc:cc:cc:cc:99"))).Reason);
        byte[] plain = Overlay.Inner(Overlay.EniMac, Overlay.GatewayMac, "10.1.1.10", "10.1.2.50", IpProtocols.Udp, 1, 2);
        Assert.Equal(DropReason.NotToVip, _h.Run(plain).Reason);
        Assert.Equal(DropReason.NoFlow, _h.Run(Overlay.FromVm("10.1.2.50", protocol: IpProtocols.Tcp, dport: 80, tcp: TcpFlags.Ack)).Reason);
    }

    [Fact]
    public void Admin_down_ENI_drops_and_counts()
    {
        using var h = new PipelineHarness(PlanEdit.Edit("full.json", p => p["enis"]![0]!["admin_state"] = "down"));
        Assert.Equal(DropReason.EniAdminDown, h.Run(Overlay.FromVm("10.1.2.50")).Reason);
        Assert.Equal(1, h.Counters.EniDrops[0]);
    }

    [Fact]
    public void No_plan_means_every_packet_is_dropped_NoPolicy()
    {
        using var h = new PipelineHarness();
        Assert.Equal(DropReason.NoPolicy, h.Run(Overlay.FromVm("10.1.2.50")).Reason);
    }

    [Fact]
    public void Static_nat_rewrites_source_outbound_and_destination_inbound_with_valid_checksums()
    {
        byte[] eni2 = Overlay.Mac("00:cc:cc:cc:cc:02");
        byte[] f = _h.Forwarded(Overlay.FromVm("10.1.2.50", src: "10.1.1.20", srcMac: eni2));
        Assert.Equal(Overlay.V4("10.1.100.20"), Read32(f, 50 + 14 + 12));
        AssertInnerChecksums(f, 50);

        byte[] inner = Overlay.Inner(Overlay.Mac("00:dd:dd:dd:dd:dd"), eni2, "10.1.2.50", "10.1.100.20", IpProtocols.Udp, 20000, 10000);
        byte[] back = _h.Forwarded(Overlay.Vxlan("172.16.1.20", "172.16.1.100", 200, inner));
        AssertOuterVxlan(back, "172.16.1.2", 100);
        Assert.Equal(Overlay.V4("10.1.1.20"), Read32(back, 50 + 14 + 16));
        AssertInnerChecksums(back, 50);
        Assert.Equal(1, _h.Counters.FlowsCreated); // the translated reply found the flow
        Assert.Equal(2, _h.Counters.NatTranslations);
    }

    internal static void AssertInnerChecksums(byte[] f, int innerL2)
    {
        Span<byte> l3 = f.AsSpan(innerL2 + 14, 20);
        Assert.True(InternetChecksum.VerifyIpv4Header(l3), "inner IPv4 checksum");
        Span<byte> l4 = f.AsSpan(innerL2 + 34);
        uint pseudo = InternetChecksum.PseudoHeaderV4(l3.Slice(12, 4), l3.Slice(16, 4), l3[9], l4.Length);
        Assert.Equal(0, InternetChecksum.Compute(l4, pseudo) & 0xFFFF);
    }

    [Fact]
    public void Ecmp_keeps_a_flow_on_one_member_and_spreads_flows_over_all()
    {
        var members = new Dictionary<uint, int>();
        for (int i = 0; i < 300; i++)
        {
            byte[] first = _h.Forwarded(Overlay.FromVm("10.2.0.7", sport: (ushort)(1000 + i)));
            byte[] again = _h.Forwarded(Overlay.FromVm("10.2.0.7", sport: (ushort)(1000 + i)));
            Assert.Equal(Read32(first, 30), Read32(again, 30));
            members[Read32(first, 30)] = members.GetValueOrDefault(Read32(first, 30)) + 1;
        }

        Assert.Equal(3, members.Count);
        Assert.All(members.Values, n => Assert.InRange(n, 60, 140));
    }

    [Fact]
    public void Meters_count_packets_and_inner_bytes_per_ENI_and_class()
    {
        byte[] vnet = Overlay.FromVm("10.1.2.50");
        byte[] internet = Overlay.FromVm("8.8.8.8", dport: 53);
        for (int i = 0; i < 5; i++)
        {
            _h.Forwarded(vnet);
        }

        for (int i = 0; i < 3; i++)
        {
            _h.Forwarded(internet);
        }

        Assert.Equal(5, _h.Counters.MeterPackets(0, 1));
        Assert.Equal(5 * (vnet.Length - 50), _h.Counters.MeterBytes(0, 1));
        Assert.Equal(3, _h.Counters.MeterPackets(0, 2));
        Assert.Equal(3 * (internet.Length - 50), _h.Counters.MeterBytes(0, 2));
        Assert.Equal(0, _h.Counters.MeterPackets(0, 0));
    }

    [Fact]
    public void A_new_generation_re_decides_existing_flows_on_their_next_packet()
    {
        byte[] syn = Overlay.FromVm("10.1.2.50", protocol: IpProtocols.Tcp, dport: 443, tcp: TcpFlags.Syn);
        byte[] ack = Overlay.FromVm("10.1.2.50", protocol: IpProtocols.Tcp, dport: 443, tcp: TcpFlags.Ack);
        AssertOuterVxlan(_h.Forwarded(syn), "172.16.1.20", 200);

        // Generation 2 moves the remote VM to another host: the flow follows it.
        string moved = PlanEdit.Edit("full.json", p =>
        {
            p["generation"] = 2;
            p["mappings"]![0]!["underlay_ip"] = "172.16.1.30";
        });
        Assert.True(_h.Store.Apply(moved).Accepted);
        AssertOuterVxlan(_h.Forwarded(ack), "172.16.1.30", 200);
        Assert.Equal(1, _h.Counters.FlowsReevaluated);
        Assert.Equal(1, _h.Pipeline.V4.Count);

        // Generation 3 removes the mapping: the flow is revoked, and its next ACK has no flow.
        string removed = PlanEdit.Edit("full.json", p =>
        {
            p["generation"] = 3;
            p["mappings"]!.AsArray().RemoveAt(0);
        });
        Assert.True(_h.Store.Apply(removed).Accepted);
        Assert.Equal(DropReason.MappingMiss, _h.Run(ack).Reason);
        Assert.Equal(1, _h.Counters.FlowsRevoked);
        Assert.Equal(0, _h.Pipeline.V4.Count);
        Assert.Equal(DropReason.NoFlow, _h.Run(ack).Reason);
    }

    [Fact]
    public void Service_tunnel_translates_to_IPv6_outbound_and_back_to_IPv4_inbound()
    {
        byte[] sent = Overlay.FromVm("10.9.1.1", sport: 40000, dport: 443);
        byte[] f = _h.Forwarded(sent);
        AssertOuterVxlan(f, "172.16.5.1", 300);
        Assert.Equal(f.Length, sent.Length + 20); // IPv6 header is 20 bytes longer
        Assert.Equal(EtherTypes.Ipv6, BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(62)));
        Span<byte> ip6 = f.AsSpan(64, 40);
        Assert.Equal(System.Net.IPAddress.Parse("fd00:5::10.1.1.10").GetAddressBytes(), ip6.Slice(8, 16).ToArray());
        Assert.Equal(System.Net.IPAddress.Parse("fd00:6::10.9.1.1").GetAddressBytes(), ip6.Slice(24, 16).ToArray());
        Assert.Equal(sent[84..90], f[104..110]); // ports and length unchanged (the checksum changes with the pseudo header)
        Assert.Equal(sent[92..], f[112..]);     // payload unchanged
        Span<byte> l4 = f.AsSpan(104);
        uint pseudo = InternetChecksum.PseudoHeaderV6(ip6.Slice(8, 16), ip6.Slice(24, 16), IpProtocols.Udp, l4.Length);
        // Compare the UDP checksum with one recomputed from scratch (the payload bytes are unchanged).
        byte[] copy = l4.ToArray();
        copy[6] = copy[7] = 0;
        ushort expected = InternetChecksum.Compute(copy, pseudo);
        Assert.Equal(expected == 0 ? (ushort)0xFFFF : expected, BinaryPrimitives.ReadUInt16BigEndian(l4[6..]));

        // The service answers over IPv6; the VM gets IPv4 back, on the same flow.
        byte[] inner6 = Overlay.Inner(Overlay.Mac("00:dd:dd:dd:dd:dd"), Overlay.EniMac, "fd00:6::10.9.1.1", "fd00:5::10.1.1.10", IpProtocols.Udp, 443, 40000);
        byte[] back = _h.Forwarded(Overlay.Vxlan("172.16.5.1", "172.16.1.100", 300, inner6));
        AssertOuterVxlan(back, "172.16.1.1", 100);
        Assert.Equal(EtherTypes.Ipv4, BinaryPrimitives.ReadUInt16BigEndian(back.AsSpan(62)));
        Assert.Equal(Overlay.V4("10.9.1.1"), Read32(back, 64 + 12));
        Assert.Equal(Overlay.V4("10.1.1.10"), Read32(back, 64 + 16));
        AssertInnerChecksums(back, 50);
        Assert.Equal(1, _h.Counters.FlowsCreated);
        Assert.Equal(1, _h.Counters.FlowHits);
    }

    [Fact]
    public void Service_tunnel_refuses_what_it_cannot_translate()
    {
        byte[] icmp = Overlay.FromVm("10.9.1.1", protocol: IpProtocols.Icmp);
        Assert.Equal(DropReason.ServiceTunnelUntranslatable, _h.Run(icmp).Reason);
    }
}
