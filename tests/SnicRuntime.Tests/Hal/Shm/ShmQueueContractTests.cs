using SnicRuntime.Hal;
using SnicRuntime.Hal.Shm;
using SnicRuntime.Tests.Hal.Core;

namespace SnicRuntime.Tests.Hal.Shm;

/// <summary>
/// The shm driver under the queue contract: port A and port B each attached to its own link, as two
/// cards are; the test plays the fabric between them, moving what A sends onto B's wire.
/// </summary>
public sealed class ShmQueueContractTests : RxTxQueueContract<ShmRxQueue, ShmTxQueue>
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-shm-contract-").FullName;
    private ShmLink? _fabricA, _fabricB;
    private ShmPort? _a, _b;

    protected override (ShmTxQueue Tx, ShmRxQueue Rx, IPort TxPort, IPort RxPort) OpenLoop(int depth)
    {
        int slots = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)depth);
        _fabricA = ShmLink.Create(Path.Combine(_dir, "a.link"), slots: slots);
        _fabricB = ShmLink.Create(Path.Combine(_dir, "b.link"), slots: slots);
        _a = new ShmPort(new PortSpec(0, "a", 1, depth, depth, 100), Pool, ShmLink.Attach(_fabricA.Path));
        _b = new ShmPort(new PortSpec(1, "b", 1, depth, depth, 100), Pool, ShmLink.Attach(_fabricB.Path));
        return (_a.TxQueue(0), _b.RxQueue(0), _a, _b);
    }

    protected override void SetLink(bool up) => _fabricA!.LinkUp = up;

    protected override void Deliver()
    {
        ShmRing from = _fabricA!.Ring(0, toCard: false), to = _fabricB!.Ring(0, toCard: true);
        int n = Math.Min(from.Ready(), to.Free());
        for (int i = 0; i < n; i++)
        {
            to.Write(i, from.Peek(i, out _));
        }

        to.Publish(n);
        from.Release(n);
    }

    public override void Dispose()
    {
        _a?.Dispose();
        _b?.Dispose();
        _fabricA?.Dispose();
        _fabricB?.Dispose();
        Directory.Delete(_dir, recursive: true);
        base.Dispose();
    }
}
