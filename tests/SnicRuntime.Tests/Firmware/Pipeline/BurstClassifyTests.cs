using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Hal.Net;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Pipeline;

/// <summary>
/// Phase 1 has a short path for packets that repeat the previous packet's VNI and ENI. A burst
/// that mixes such packets with every reason to leave the short path must be decided exactly as
/// the same packets one at a time in a fresh pipeline (where the cache starts cold each time).
/// </summary>
public sealed class BurstClassifyTests
{
    private static byte[][] MixedBurst()
    {
        byte[] eni2 = Overlay.Mac("00:cc:cc:cc:cc:02");
        return
        [
            Overlay.FromVm("10.1.2.50"),
            Overlay.FromVm("10.1.2.50", sport: 10001), // same ENI and VNI: short path
            Overlay.FromVm("10.1.2.50", sport: 10002, vip: "172.16.1.99"), // same ENI, wrong VIP
            Overlay.FromVm("10.1.2.60", sport: 10003), // NVGRE mapping
            Overlay.FromVm("10.1.2.50", sport: 10004, src: "10.1.1.20", srcMac: eni2), // the other ENI
            Overlay.FromVm("10.1.2.50", sport: 10005), // back to the first
            Overlay.FromVm("10.1.2.50", sport: 10006, srcMac: Overlay.Mac("00:cc:cc:cc:cc:99")), // unknown ENI
            Overlay.FromVm("10.1.2.50", sport: 10007), // after an unknown ENI
            Overlay.FromVm("10.1.77.5", sport: 10008), // route action drop
            Overlay.FromVm("10.1.2.50", sport: 10009, protocol: IpProtocols.Tcp, tcp: TcpFlags.Ack), // TCP without SYN
            Overlay.FromVm("10.1.2.50", sport: 10010, protocol: IpProtocols.Tcp), // TCP SYN
            Overlay.Vxlan("172.16.1.1", "172.16.1.100", 300, Overlay.Inner(Overlay.EniMac, Overlay.GatewayMac, "10.1.1.10", "10.1.2.50", IpProtocols.Udp, 10011, 20000)), // unknown VNI
            Overlay.FromVm("10.1.2.50", sport: 10012),
            Overlay.FromVm("10.1.2.50", sport: 10001), // a flow this burst created: hit in the next burst, miss here
        ];
    }

    [Fact]
    public void A_mixed_burst_is_decided_as_its_packets_are_one_at_a_time()
    {
        byte[][] frames = MixedBurst();
        using var burst = new PipelineHarness(PipelineHarness.PlanText("full.json"));
        var together = burst.RunBurst(frames);
        var again = burst.RunBurst(frames); // now mostly flow hits

        long outbound = 0, eni1Packets = 0, eni2Packets = 0, eni1Bytes = 0;
        for (int i = 0; i < frames.Length; i++)
        {
            using var alone = new PipelineHarness(PipelineHarness.PlanText("full.json"));
            var first = alone.Run(frames[i]);
            var second = alone.Run(frames[i]);
            outbound += alone.Counters.Outbound;
            eni1Packets += alone.Counters.EniPackets[0];
            eni2Packets += alone.Counters.EniPackets[1];
            eni1Bytes += alone.Counters.EniBytes[0];
            if (i == frames.Length - 1)
            {
                // In the burst this flow already existed (packet 1 made it); alone it is new. Its
                // output is the same either way.
                first = second;
            }

            Assert.True(first.Reason == together[i].Reason, $"packet {i}: alone {first.Reason}, in the burst {together[i].Reason}");
            Assert.Equal(first.Port, together[i].Port);
            Assert.Equal(first.Output, together[i].Output);
            Assert.True(second.Reason == again[i].Reason, $"packet {i}, second time: alone {second.Reason}, in the burst {again[i].Reason}");
            Assert.Equal(second.Output, again[i].Output);
        }

        // The short path counts as the full one does.
        Assert.Equal(outbound, burst.Counters.Outbound);
        Assert.Equal(eni1Packets, burst.Counters.EniPackets[0]);
        Assert.Equal(eni2Packets, burst.Counters.EniPackets[1]);
        Assert.Equal(eni1Bytes, burst.Counters.EniBytes[0]);
        Assert.True(eni2Packets > 0);
    }
}
