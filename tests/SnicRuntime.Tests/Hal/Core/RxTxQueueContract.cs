using SnicRuntime.Hal;
using Xunit;

namespace SnicRuntime.Tests.Hal.Core;

/// <summary>
/// What every HAL driver's queues must do, whatever is behind them. One subclass per driver
/// supplies a loop: frames sent on its tx queue come back on its rx queue. Real drivers (AF_PACKET,
/// pcap, DPDK, virtio) add a subclass each; what one driver passes, all must pass.
/// </summary>
public abstract class RxTxQueueContract<TRx, TTx> : IDisposable
    where TRx : struct, IRxQueue
    where TTx : struct, ITxQueue
{
    /// <param name="pool">The driver's pool when it needs its own kind (DPDK: an mbuf pool); else one of 2048 buffers.</param>
    protected RxTxQueueContract(PacketPool? pool = null)
    {
        Pool = pool ?? new PacketPool(2048);
    }

    protected PacketPool Pool { get; }

    /// <summary>A tx queue and an rx queue joined so that what is sent is received, in order.</summary>
    protected abstract (TTx Tx, TRx Rx, IPort TxPort, IPort RxPort) OpenLoop(int depth);

    /// <summary>Takes the link of the tx side down or up.</summary>
    protected abstract void SetLink(bool up);

    /// <summary>Why this driver cannot run here (no root, no namespaces, ...), or null: the tests then skip, saying so.</summary>
    protected virtual string? Unavailable => null;

    /// <summary>Moves anything in flight on the link to the rx side (a no-op where delivery is immediate).</summary>
    protected virtual void Deliver()
    {
    }

    private PacketRef[] Frames(int n, byte tag)
    {
        var frames = new PacketRef[n];
        Assert.Equal(n, Pool.AllocBulk(frames));
        for (int i = 0; i < n; i++)
        {
            frames[i].SetLength(60 + i % 40);
            frames[i].Data.Fill(tag);
            frames[i].Data[0] = (byte)i;
        }

        return frames;
    }

    private int ReceiveAll(TRx rx, List<byte[]> into, int max)
    {
        var burst = new PacketRef[32];
        int total = 0;
        for (int tries = 0; tries < 1000 && total < max; tries++)
        {
            Deliver();
            int n = rx.RxBurst(burst);
            for (int i = 0; i < n; i++)
            {
                into.Add(burst[i].Data.ToArray());
            }

            Pool.FreeBulk(burst.AsSpan(0, n));
            total += n;
        }

        return total;
    }

    [SkippableFact]
    public void Bursts_arrive_whole_and_in_order()
    {
        Skip.If(Unavailable is not null, Unavailable);
        (TTx tx, TRx rx, _, _) = OpenLoop(256);
        PacketRef[] frames = Frames(100, 0xA5);
        var expected = frames.Select(f => f.Data.ToArray()).ToList();
        int sent = 0;
        while (sent < frames.Length)
        {
            sent += tx.TxBurst(frames.AsSpan(sent, Math.Min(32, frames.Length - sent)));
        }

        var got = new List<byte[]>();
        Assert.Equal(100, ReceiveAll(rx, got, 100));
        for (int i = 0; i < 100; i++)
        {
            Assert.True(expected[i].AsSpan().SequenceEqual(got[i]), $"frame {i} differs");
        }

        Assert.Equal(Pool.BufferCount, Pool.Available);
    }

    [SkippableFact]
    public void Empty_bursts_return_zero_and_a_full_queue_refuses_the_rest()
    {
        Skip.If(Unavailable is not null, Unavailable);
        (TTx tx, TRx rx, _, _) = OpenLoop(64);
        Assert.Equal(0, rx.RxBurst(new PacketRef[32]));
        Assert.Equal(0, tx.TxBurst(ReadOnlySpan<PacketRef>.Empty));
        PacketRef[] frames = Frames(200, 1);
        int accepted = tx.TxBurst(frames);
        Assert.InRange(accepted, 1, 199);
        // Refused packets still belong to the caller.
        Pool.FreeBulk(frames.AsSpan(accepted));
        var got = new List<byte[]>();
        Assert.Equal(accepted, ReceiveAll(rx, got, accepted));
        Assert.Equal(Pool.BufferCount, Pool.Available);
    }

    [SkippableFact]
    public void Counters_match_what_was_sent_and_received()
    {
        Skip.If(Unavailable is not null, Unavailable);
        (TTx tx, TRx rx, IPort txPort, IPort rxPort) = OpenLoop(256);
        PacketRef[] frames = Frames(50, 7);
        long bytes = frames.Sum(f => (long)f.Length);
        Assert.Equal(50, tx.TxBurst(frames));
        var got = new List<byte[]>();
        ReceiveAll(rx, got, 50);
        Assert.Equal(50, txPort.ReadCounters().TxPackets);
        Assert.Equal(bytes, txPort.ReadCounters().TxBytes);
        Assert.Equal(50, rxPort.ReadCounters().RxPackets);
        Assert.Equal(bytes, rxPort.ReadCounters().RxBytes);
    }

    [SkippableFact]
    public void Link_down_refuses_and_counts_link_up_recovers()
    {
        Skip.If(Unavailable is not null, Unavailable);
        (TTx tx, TRx rx, IPort txPort, _) = OpenLoop(256);
        PacketRef[] frames = Frames(10, 3);
        SetLink(false);
        Assert.Equal(0, tx.TxBurst(frames));
        Assert.True(txPort.ReadCounters().TxLinkDownDrops == 10, $"link-down drops {txPort.ReadCounters().TxLinkDownDrops}; {Describe(txPort)}");
        SetLink(true);
        Assert.Equal(10, tx.TxBurst(frames));
        Assert.Equal(10, ReceiveAll(rx, [], 10));
        Assert.Equal(Pool.BufferCount, Pool.Available);
    }

    /// <summary>What the driver can say about its port's state, for failure messages.</summary>
    protected virtual string Describe(IPort port) => "";

    public virtual void Dispose()
    {
        Pool.Dispose();
        GC.SuppressFinalize(this);
    }
}
