using SnicRuntime.Hal;
using SnicRuntime.Hal.AfPacket;

namespace SnicRuntime.Tests.Contracts;

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
