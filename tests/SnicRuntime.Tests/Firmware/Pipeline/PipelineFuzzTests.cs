using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware;
using SnicRuntime.Hal.Net;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Pipeline;

/// <summary>Mutated and truncated overlay frames through the whole pipeline: never a crash, every packet forwarded or dropped with a reason.</summary>
public sealed class PipelineFuzzTests
{
    [Fact]
    public void Mutated_overlay_traffic_is_forwarded_or_dropped_with_a_reason_never_thrown()
    {
        using var h = new PipelineHarness(PipelineHarness.PlanText("full.json"), flows: 65_536);
        byte[] eni2 = Overlay.Mac("00:cc:cc:cc:cc:02");
        byte[][] seeds =
        [
            Overlay.FromVm("10.1.2.50"),
            Overlay.FromVm("10.1.2.60", protocol: IpProtocols.Tcp, dport: 443),
            Overlay.FromVm("8.8.8.8", dport: 53),
            Overlay.FromVm("10.9.1.1", sport: 999),
            Overlay.FromVm("10.2.3.4"),
            Overlay.FromVm("10.1.2.50", src: "10.1.1.20", srcMac: eni2),
            Overlay.Vxlan("172.16.1.20", "172.16.1.100", 200, Overlay.Inner(Overlay.Mac("00:dd:dd:dd:dd:dd"), Overlay.EniMac, "10.1.2.50", "10.1.1.10", IpProtocols.Udp, 1, 2)),
            Overlay.Vxlan("172.16.5.1", "172.16.1.100", 300, Overlay.Inner(Overlay.Mac("00:dd:dd:dd:dd:dd"), Overlay.EniMac, "fd00:6::10.9.1.1", "fd00:5::10.1.1.10", IpProtocols.Tcp, 443, 999)),
        ];
        TestSeeds.Run(4242, rng =>
        {
            int forwarded = 0, dropped = 0;
            for (int i = 0; i < 100_000; i++)
            {
                byte[] f = (byte[])seeds[rng.Next(seeds.Length)].Clone();
                int flips = rng.Next(0, 4);
                for (int k = 0; k < flips; k++)
                {
                    f[rng.Next(f.Length)] ^= (byte)(1 << rng.Next(8));
                }

                if (rng.Next(8) == 0)
                {
                    f = f[..rng.Next(1, f.Length)];
                }

                var (output, port, reason) = h.Run(f);
                if (output is null)
                {
                    Assert.NotEqual(DropReason.None, reason);
                    dropped++;
                }
                else
                {
                    Assert.Equal(0, port);
                    Assert.True(output.Length >= 42, "an emitted frame has at least outer headers");
                    forwarded++;
                }
            }

            Assert.True(forwarded > 10_000 && dropped > 10_000, $"forwarded {forwarded}, dropped {dropped}");
        });
    }
}
