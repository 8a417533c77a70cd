using SnicRuntime.Tests.Hal.Core;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Emulated;

namespace SnicRuntime.Tests.Hal.Emulated;

/// <summary>The emulated driver under the queue contract: two ports cabled together.</summary>
public sealed class EmulatedQueueContractTests : RxTxQueueContract<EmulatedRxQueue, EmulatedTxQueue>
{
    private EmulatedPort? _a;
    private EmulatedPort? _b;

    protected override (EmulatedTxQueue Tx, EmulatedRxQueue Rx, IPort TxPort, IPort RxPort) OpenLoop(int depth)
    {
        _a = new EmulatedPort(new PortSpec(0, "a", 1, depth, depth, 100), Pool, null);
        _b = new EmulatedPort(new PortSpec(1, "b", 1, depth, depth, 100), Pool, null);
        EmulatedPort.Connect(_a, _b);
        return (_a.TxQueue(0), _b.RxQueue(0), _a, _b);
    }

    protected override void SetLink(bool up) => _a!.SetLink(up);

    public override void Dispose()
    {
        _a?.Dispose();
        _b?.Dispose();
        base.Dispose();
    }
}
