using SnicRuntime.Hal;
using SnicRuntime.Hal.AfPacket;
using SnicRuntime.Tests.Hal.Core;
using Xunit;

namespace SnicRuntime.Tests.Hal.AfPacket;

/// <summary>
/// The AF_PACKET driver under the queue contract: a veth pair in a network namespace of the
/// test's own, port "a" transmitting, port "b" receiving (through its TPACKET_V3 ring), through
/// the Linux kernel.
/// </summary>
public class AfPacketQueueContractTests : RxTxQueueContract<AfPacketRxQueue, AfPacketTxQueue>
{
    /// <summary>Receive through the TPACKET_V3 ring (true) or recvmmsg (false).</summary>
    protected virtual bool RxRing => true;

    private readonly NetNamespace _ns = new();
    private AfPacketPort? _a;
    private AfPacketPort? _b;

    protected override string? Unavailable => _ns.Unavailable;

    protected override (AfPacketTxQueue Tx, AfPacketRxQueue Rx, IPort TxPort, IPort RxPort) OpenLoop(int depth)
    {
        _a = AfPacketPort.Open(new PortSpec(0, "a", 1, depth, depth, 10), Pool, "snica", _ns.Name);
        _b = AfPacketPort.Open(new PortSpec(1, "b", 1, depth, depth, 10), Pool, "snicb", _ns.Name, rxRing: RxRing);
        return (_a.TxQueue(0), _b.RxQueue(0), _a, _b);
    }

    protected override void SetLink(bool up)
    {
        _ns.SetLink("snica", up);
        // The kernel applies it at once; carrier follows within moments on a veth.
        SpinWait.SpinUntil(() => _a!.LinkUp == up, TimeSpan.FromSeconds(5));
    }

    protected override void Deliver() => Thread.Sleep(1); // the kernel delivers on its own time

    protected override string Describe(IPort port) => port is AfPacketPort p ? $"link up {p.LinkUp}, errors {p.Errors()}" : "";

    /// <summary>
    /// A frame larger than the receiving pool's buffers is dropped whole and counted, never passed
    /// on cut short; the frames around it arrive untouched.
    /// </summary>
    [SkippableFact]
    public void A_frame_larger_than_a_buffer_is_dropped_whole_and_counted()
    {
        Skip.If(Unavailable is not null, Unavailable);
        using var small = new PacketPool(256, dataRoom: 512);
        _a = AfPacketPort.Open(new PortSpec(0, "a", 1, 256, 256, 10), Pool, "snica", _ns.Name);
        _b = AfPacketPort.Open(new PortSpec(1, "b", 1, 256, 256, 10), small, "snicb", _ns.Name, rxRing: RxRing);
        var frames = new PacketRef[3];
        Assert.Equal(3, Pool.AllocBulk(frames));
        int[] lengths = [100, 1000, 120];
        for (int i = 0; i < 3; i++)
        {
            frames[i].SetLength(lengths[i]);
            frames[i].Data.Fill((byte)(0x10 + i));
            frames[i].Data[..12].Fill(0xFF); // broadcast, from ff:..: nobody's traffic but ours
        }

        Assert.Equal(3, _a.TxQueue(0).TxBurst(frames));
        var got = new List<byte[]>();
        var burst = new PacketRef[8];
        AfPacketRxQueue rx = _b.RxQueue(0);
        for (int tries = 0; tries < 2000 && (got.Count < 2 || _b.ReadCounters().RxOversizeDrops < 1); tries++)
        {
            Thread.Sleep(1);
            int n = rx.RxBurst(burst);
            for (int i = 0; i < n; i++)
            {
                got.Add(burst[i].Data.ToArray());
            }

            small.FreeBulk(burst.AsSpan(0, n));
        }

        Assert.Equal([100, 120], got.Select(f => f.Length));
        Assert.Equal([0x10, 0x12], got.Select(f => f[20]));
        Assert.Equal(1, _b.ReadCounters().RxOversizeDrops);
        _b.Dispose();
        _b = null;
        Assert.Equal(small.BufferCount, small.Available);
    }

    public override void Dispose()
    {
        _a?.Dispose();
        _b?.Dispose();
        _ns.Dispose();
        base.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>The same contract with recvmmsg on the receive side (the ring's fallback).</summary>
public sealed class AfPacketRecvmmsgQueueContractTests : AfPacketQueueContractTests
{
    protected override bool RxRing => false;
}
