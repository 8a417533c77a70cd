using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Emulated;
using Xunit;

namespace SnicRuntime.Tests.Hal.Emulated;

public class EmulatedPortTests
{
    private static PortSpec Spec(int id, int queues, int depth = 64) => new(id, "p" + id, queues, depth, depth, 100);

    [Fact]
    public void Rss_steers_both_directions_of_every_flow_to_one_queue()
    {
        using var pool = new PacketPool(4096);
        using var port = new EmulatedPort(Spec(0, 4, 4096), pool, new SymmetricRss());
        var gen = new TrafficGenerator(new TrafficProfile { Flows = 200, DataPacketsPerFlow = 4 }, pool);
        var burst = new PacketRef[32];
        for (int i = 0; i < 64; i++)
        {
            int n = gen.Fill(burst);
            Assert.Equal(n, port.Inject(burst.AsSpan(0, n)));
        }

        var queueOfFlow = new Dictionary<uint, int>();
        var perQueue = new int[4];
        for (int q = 0; q < 4; q++)
        {
            EmulatedRxQueue rx = port.RxQueue(q);
            int n;
            while ((n = rx.RxBurst(burst)) > 0)
            {
                for (int i = 0; i < n; i++)
                {
                    Assert.Equal(DropReason.None, PacketParser.Parse(burst[i].Data, out ParsedPacket p));
                    Assert.Equal(q, burst[i].Header.Queue);
                    Assert.Equal(p.FlowHash, burst[i].Header.RssHash);
                    if (queueOfFlow.TryGetValue(p.FlowHash, out int seen))
                    {
                        Assert.Equal(seen, q);
                    }

                    queueOfFlow[p.FlowHash] = q;
                    perQueue[q]++;
                }

                pool.FreeBulk(burst.AsSpan(0, n));
            }
        }

        Assert.Equal(64 * 32, perQueue.Sum());
        Assert.All(perQueue, c => Assert.True(c > 64 * 32 / 8, $"queues unbalanced: {string.Join(",", perQueue)}"));
        Assert.Equal(4096, pool.Available);
    }

    [Fact]
    public void Full_rx_ring_drops_are_counted_and_buffers_return_to_the_pool()
    {
        using var pool = new PacketPool(256);
        using var port = new EmulatedPort(Spec(0, 1, 64), pool, null);
        var gen = new TrafficGenerator(new TrafficProfile { Flows = 10 }, pool);
        var burst = new PacketRef[100];
        int n = gen.Fill(burst);
        Assert.Equal(100, n);
        Assert.Equal(64, port.Inject(burst));
        Assert.Equal(36, port.ReadCounters().RxRingFullDrops);
        Assert.Equal(256 - 64, pool.Available);
    }

    [Fact]
    public void Cabled_ports_deliver_queue_to_queue_and_link_down_refuses_tx()
    {
        using var pool = new PacketPool(256);
        using var a = new EmulatedPort(Spec(0, 2), pool, new SymmetricRss());
        using var b = new EmulatedPort(Spec(1, 2), pool, new SymmetricRss());
        EmulatedPort.Connect(a, b);
        Assert.Throws<InvalidOperationException>(() => b.Inject(ReadOnlySpan<PacketRef>.Empty));
        Assert.Throws<InvalidOperationException>(() => EmulatedPort.Connect(a, b));

        var gen = new TrafficGenerator(new TrafficProfile { Flows = 4 }, pool);
        var burst = new PacketRef[8];
        Assert.Equal(8, gen.Fill(burst));
        Assert.Equal(8, a.TxQueue(1).TxBurst(burst));
        var got = new PacketRef[16];
        Assert.Equal(0, b.RxQueue(0).RxBurst(got));
        Assert.Equal(8, b.RxQueue(1).RxBurst(got));
        Assert.Equal(burst, got.Take(8));
        Assert.Equal(8, a.ReadCounters().TxPackets);
        Assert.Equal(8, b.ReadCounters().RxPackets);
        Assert.Equal(burst.Sum(p => (long)p.Length), b.ReadCounters().RxBytes);
        Assert.Equal(a.ReadCounters().TxBytes, b.ReadCounters().RxBytes);

        a.SetLink(false);
        Assert.Equal(0, a.TxQueue(0).TxBurst(got.AsSpan(0, 8)));
        Assert.Equal(8, a.ReadCounters().TxLinkDownDrops);
        pool.FreeBulk(got.AsSpan(0, 8));
        Assert.Equal(256, pool.Available);
    }

    [Fact]
    public void Multi_queue_port_without_rss_is_refused()
    {
        using var pool = new PacketPool(8);
        var e = Assert.Throws<ArgumentException>(() => new EmulatedPort(Spec(0, 2), pool, null));
        Assert.Contains("p0", e.Message);
    }
}
