using SnicRuntime.Firmware.Card;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Board;
using SnicRuntime.Hal.Emulated;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Workers;

public class WorkerTests
{
    private static BoardDefinition Board(int cores = 2) => TestBoards.Emulated(cores);

    [Theory]
    [InlineData(StageKind.Forward)]
    [InlineData(StageKind.Flows)]
    public void Generated_traffic_comes_out_byte_for_byte_with_counters_equal(StageKind stage)
    {
        using Dataplane dp = Dataplane.Create(Board(), new DataplaneOptions { Stage = stage, FlowsPerWorker = 4096 });
        EmulatedPort inPort = dp.EmulatedPort(0);
        EmulatedPort outPort = dp.EmulatedPort(1);
        var gen = new TrafficGenerator(new TrafficProfile { Flows = 300 }, dp.Pool);
        var sent = new Dictionary<uint, List<byte[]>>(); // by flow hash: per-flow order must hold
        var burst = new PacketRef[32];
        var received = new List<byte[]>();
        long sentBytes = 0;
        for (int round = 0; round < 200; round++)
        {
            int n = gen.Fill(burst);
            for (int i = 0; i < n; i++)
            {
                byte[] copy = burst[i].Data.ToArray();
                PacketParser.Parse(copy, out ParsedPacket p);
                (sent.TryGetValue(p.FlowHash, out var l) ? l : sent[p.FlowHash] = []).Add(copy);
                sentBytes += copy.Length;
            }

            Assert.Equal(n, inPort.Inject(burst.AsSpan(0, n)));
            foreach (IWorker w in dp.Workers)
            {
                w.PollOnce();
            }

            int got;
            while ((got = outPort.Drain(burst)) > 0)
            {
                for (int i = 0; i < got; i++)
                {
                    received.Add(burst[i].Data.ToArray());
                }

                dp.Pool.FreeBulk(burst.AsSpan(0, got));
            }
        }

        long total = sent.Values.Sum(l => l.Count);
        Assert.Equal(200 * 32, total);
        Assert.Equal(total, received.Count);
        // Same packets, and within each flow the same order.
        var receivedByFlow = received.GroupBy(f => { PacketParser.Parse(f, out ParsedPacket p); return p.FlowHash; })
            .ToDictionary(g => g.Key, g => g.ToList());
        foreach ((uint flow, List<byte[]> frames) in sent)
        {
            List<byte[]> got = receivedByFlow[flow];
            Assert.Equal(frames.Count, got.Count);
            for (int i = 0; i < frames.Count; i++)
            {
                Assert.True(frames[i].AsSpan().SequenceEqual(got[i]), $"flow {flow:X8} packet {i} changed");
            }
        }

        WorkerSnapshot c = dp.TotalCounters();
        Assert.Equal(total, c.RxPackets);
        Assert.Equal(total, c.TxPackets);
        Assert.Equal(sentBytes, c.RxBytes);
        Assert.Equal(sentBytes, c.TxBytes);
        Assert.Equal(0, c.Drops);
        Assert.Equal(total, inPort.ReadCounters().RxPackets);
        Assert.Equal(total, outPort.ReadCounters().TxPackets);
        Assert.True(dp.Workers.All(w => w.Counters.RxPackets > total / 4), "one worker got almost nothing: RSS is not spreading");
        Assert.Equal(dp.Pool.BufferCount, dp.Pool.Available);
    }

    [Fact]
    public void Malformed_frames_are_dropped_with_their_reason_and_freed()
    {
        using Dataplane dp = Dataplane.Create(Board(cores: 1), new DataplaneOptions { FlowsPerWorker = 4096, Creation = SnicRuntime.Firmware.Flows.FlowCreation.AnyPacket });
        EmulatedPort inPort = dp.EmulatedPort(0);
        TestSeeds.Run(5, rng =>
        {
            var burst = new PacketRef[32];
            int total = 0;
            for (int round = 0; round < 100; round++)
            {
                int n = dp.Pool.AllocBulk(burst);
                for (int i = 0; i < n; i++)
                {
                    int len = rng.Next(0, 120);
                    burst[i].SetLength(len);
                    rng.NextBytes(burst[i].Data);
                }

                inPort.Inject(burst.AsSpan(0, n));
                total += n;
                dp.Workers[0].PollOnce();
                int got;
                while ((got = dp.EmulatedPort(1).Drain(burst)) > 0)
                {
                    dp.Pool.FreeBulk(burst.AsSpan(0, got));
                }
            }

            WorkerSnapshot c = dp.TotalCounters();
            Assert.Equal(total, c.RxPackets);
            Assert.Equal(total, c.TxPackets + c.Drops);
            Assert.True(c.Drops > total * 0.9);
            Assert.Equal(c.Drops, dp.DropsByReason().Values.Sum());
            Assert.Equal(dp.Pool.BufferCount, dp.Pool.Available);
        });
    }

    [Fact]
    public void Threads_start_forward_and_stop_cleanly()
    {
        using Dataplane dp = Dataplane.Create(Board(), new DataplaneOptions { FlowsPerWorker = 65536 });
        var gen = new TrafficGenerator(new TrafficProfile { Flows = 1000 }, dp.Pool);
        var sink = new TrafficSink(dp.Pool, dp.EmulatedPort(0), dp.EmulatedPort(1));
        dp.Start();
        Assert.Throws<InvalidOperationException>(dp.Start);
        using var cancel = new CancellationTokenSource();
        var sinkThread = new Thread(() => sink.Run(cancel.Token));
        sinkThread.Start();
        gen.Run(dp.EmulatedPort(0), TimeSpan.FromMilliseconds(300), CancellationToken.None);
        SpinWait.SpinUntil(() => dp.EmulatedPort(0).RxPending == 0 && dp.EmulatedPort(1).TxPending == 0, 2000);
        Assert.True(dp.Stop(TimeSpan.FromSeconds(5)));
        cancel.Cancel();
        sinkThread.Join();

        WorkerSnapshot c = dp.TotalCounters();
        long missed = dp.EmulatedPort(0).ReadCounters().RxRingFullDrops;
        Assert.True(gen.Packets > 1000);
        Assert.Equal(gen.Packets, c.RxPackets + missed);
        Assert.Equal(c.RxPackets, c.TxPackets + c.Drops);
        Assert.Equal(c.TxPackets, sink.Packets);
        Assert.Equal(dp.Pool.BufferCount, dp.Pool.Available);
    }

    [Fact]
    public void A_board_this_build_cannot_run_is_refused_with_the_reason()
    {
        BoardDefinition b = Board();
        b.Hal.Driver = "virtio"; // with no socket named for its ports
        var e = Assert.Throws<BoardNotSupportedException>(() => Dataplane.Create(b));
        Assert.Contains(".socket'", e.Message);

        b = Board();
        b.Cpu.Architecture = "arm64";
        b.RuntimeIdentifier = "linux-arm64";
        e = Assert.Throws<BoardNotSupportedException>(() => Dataplane.Create(b));
        Assert.Contains("arm64", e.Message);

        e = Assert.Throws<BoardNotSupportedException>(() => Dataplane.Create(Board(), new DataplaneOptions { Workers = 3 }));
        Assert.Contains("3 workers", e.Message);
    }
}
