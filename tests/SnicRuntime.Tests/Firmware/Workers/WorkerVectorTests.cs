using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Firmware;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Emulated;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Workers;

/// <summary>
/// The worker's vectors: a poll takes driver bursts while they come back full (up to 256 packets)
/// and hands the stage one vector; transmit goes back to the driver a burst at a time.
/// </summary>
public class WorkerVectorTests
{
    private const int Burst = 32;

    [Fact]
    public void A_loaded_queue_is_taken_as_one_vector_of_whole_bursts()
    {
        using var pool = new PacketPool(2048);
        using var port = new EmulatedPort(new PortSpec(0, "p0", 1, 1024, 1024, 100), pool, rss: null);
        var worker = new Worker<EmulatedRxQueue, EmulatedTxQueue, PortForwardStage>(0, [port.RxQueue(0)], [port.TxQueue(0)], PortForwardStage.Pairs(1), pool, Burst);
        Inject(port, pool, 300);

        Assert.Equal(WorkerVector.MaxPackets, worker.PollOnce()); // eight full bursts, one vector
        Assert.Equal(1, worker.Counters.Bursts);
        Assert.Equal(300 - WorkerVector.MaxPackets, worker.PollOnce()); // a short burst ends the vector at once
        Assert.Equal(2, worker.Counters.Bursts);
        Assert.Equal(300, Drain(port, pool));
        Assert.Equal(0, worker.Counters.TotalDrops);
    }

    [Fact]
    public void A_vector_of_one_burst_takes_one_burst_per_poll()
    {
        using var pool = new PacketPool(2048);
        using var port = new EmulatedPort(new PortSpec(0, "p0", 1, 1024, 1024, 100), pool, rss: null);
        var worker = new Worker<EmulatedRxQueue, EmulatedTxQueue, PortForwardStage>(0, [port.RxQueue(0)], [port.TxQueue(0)], PortForwardStage.Pairs(1), pool, Burst, vectorSize: Burst);
        Inject(port, pool, 100);

        Assert.Equal(Burst, worker.PollOnce());
        Assert.Equal(100, Burst + worker.PollOnce() + worker.PollOnce() + worker.PollOnce());
        Assert.Equal(100, Drain(port, pool));
    }

    [Theory]
    [InlineData(32, 16)] // less than one burst
    [InlineData(32, 512)] // more than the stages are sized for
    public void A_vector_size_outside_one_burst_to_256_is_refused(int burst, int vector)
    {
        using var pool = new PacketPool(64);
        using var port = new EmulatedPort(new PortSpec(0, "p0", 1, 64, 64, 100), pool, rss: null);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new Worker<EmulatedRxQueue, EmulatedTxQueue, PortForwardStage>(0, [port.RxQueue(0)], [port.TxQueue(0)], PortForwardStage.Pairs(1), pool, burst, vector));
        Assert.Equal("vectorSize", e.ParamName);
    }

    [Fact]
    public void A_vector_goes_to_a_driver_that_takes_one_burst_per_call_without_loss()
    {
        using var pool = new PacketPool(2048);
        using var port = new EmulatedPort(new PortSpec(0, "p0", 1, 1024, 1024, 100), pool, rss: null);
        var sink = new LimitedSink(pool, capacity: int.MaxValue);
        var worker = new Worker<EmulatedRxQueue, LimitedTx, PortForwardStage>(0, [port.RxQueue(0)], [new LimitedTx(sink)], PortForwardStage.Pairs(1), pool, Burst);
        Inject(port, pool, WorkerVector.MaxPackets);

        Assert.Equal(WorkerVector.MaxPackets, worker.PollOnce());
        Assert.Equal(WorkerVector.MaxPackets, sink.Taken);
        Assert.Equal(WorkerVector.MaxPackets / Burst, sink.Calls);
        Assert.Equal(WorkerVector.MaxPackets, worker.Counters.TxPackets);
        Assert.Equal(0, worker.Counters.TotalDrops);
        sink.FreeAll();
        Assert.Equal(2048, pool.Available);
    }

    [Fact]
    public void What_a_full_driver_refuses_is_counted_and_freed_once()
    {
        using var pool = new PacketPool(2048);
        using var port = new EmulatedPort(new PortSpec(0, "p0", 1, 1024, 1024, 100), pool, rss: null);
        var sink = new LimitedSink(pool, capacity: 100);
        var worker = new Worker<EmulatedRxQueue, LimitedTx, PortForwardStage>(0, [port.RxQueue(0)], [new LimitedTx(sink)], PortForwardStage.Pairs(1), pool, Burst);
        Inject(port, pool, WorkerVector.MaxPackets);

        worker.PollOnce();
        Assert.Equal(100, sink.Taken);
        Assert.Equal(100, worker.Counters.TxPackets);
        Assert.Equal(WorkerVector.MaxPackets - 100, worker.Counters.Drops[(int)DropReason.TxRejected]);
        sink.FreeAll();
        Assert.Equal(2048, pool.Available); // every refused packet back in the pool, none twice
    }

    private static void Inject(EmulatedPort port, PacketPool pool, int count)
    {
        var gen = new TrafficGenerator(new TrafficProfile { Flows = 64 }, pool);
        var burst = new PacketRef[Burst];
        for (int done = 0; done < count;)
        {
            int n = gen.Fill(burst.AsSpan(0, Math.Min(Burst, count - done)));
            Assert.Equal(n, port.Inject(burst.AsSpan(0, n)));
            done += n;
        }
    }

    private static int Drain(EmulatedPort port, PacketPool pool)
    {
        var burst = new PacketRef[Burst];
        int total = 0, got;
        while ((got = port.Drain(burst)) > 0)
        {
            pool.FreeBulk(burst.AsSpan(0, got));
            total += got;
        }

        return total;
    }

    /// <summary>A driver's tx side that takes at most one burst per call (as AF_PACKET's sendmmsg batch does) until it is full.</summary>
    private sealed class LimitedSink(PacketPool pool, int capacity)
    {
        private readonly List<PacketRef> _taken = [];

        public int Taken => _taken.Count;

        public int Calls { get; private set; }

        public int Take(ReadOnlySpan<PacketRef> packets)
        {
            Assert.True(packets.Length <= Burst, $"the worker offered {packets.Length} packets in one call");
            Calls++;
            int n = Math.Min(packets.Length, capacity - _taken.Count);
            for (int i = 0; i < n; i++)
            {
                _taken.Add(packets[i]);
            }

            return n;
        }

        public void FreeAll()
        {
            pool.FreeBulk(_taken.ToArray());
            _taken.Clear();
        }
    }

    private readonly struct LimitedTx(LimitedSink sink) : ITxQueue
    {
        public int TxBurst(ReadOnlySpan<PacketRef> packets) => sink.Take(packets);
    }
}
