using SnicRuntime.Tests.Hal.Core;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Dpdk;

namespace SnicRuntime.Tests.Hal.Dpdk;

/// <summary>
/// The driver contract on DPDK: a net_ring virtual device is a loop (its tx ring is its rx ring),
/// so what the tx queue sends the rx queue receives — through the real shim, the real EAL and the
/// ring PMD. The EAL runs once per test process (no hugepages, no PCI, no shared files).
/// </summary>
public sealed class DpdkQueueContractTests : RxTxQueueContract<DpdkRxQueue, DpdkTxQueue>
{
    /// <summary>Ring devices: each test of the contract takes its own (a port is started once); net_ring5 is DpdkPoolTests'.</summary>
    public const string EalArguments = "--no-huge --no-pci --no-shconf --no-telemetry -m 256 -l 0 --log-level=lib.eal:error " +
        "--vdev=net_ring0 --vdev=net_ring1 --vdev=net_ring2 --vdev=net_ring3 --vdev=net_ring4 --vdev=net_ring5";

    private static int s_next = -1;
    internal static readonly string? s_unavailable = Probe();
    private DpdkPort? _port;

    /// <summary>The pool is DPDK's (its buffers are the mbufs the ring PMD passes); a plain one where DPDK is missing, for the skip.</summary>
    public DpdkQueueContractTests()
        : base(s_unavailable is null ? DpdkPool.Create(2048) : null)
    {
    }

    private static string? Probe()
    {
        try
        {
            DpdkEal.Init(EalArguments);
            return null;
        }
        catch (DpdkException e)
        {
            return "DPDK is not available here: " + e.Message;
        }
    }

    protected override string? Unavailable => s_unavailable;

    protected override (DpdkTxQueue Tx, DpdkRxQueue Rx, IPort TxPort, IPort RxPort) OpenLoop(int depth)
    {
        int ring = Interlocked.Increment(ref s_next);
        _port = DpdkPort.Open(new PortSpec(0, "ring", 1, 1024, depth, 10), Pool, $"net_ring{ring}", 32);
        return (_port.TxQueue(0), _port.RxQueue(0), _port, _port);
    }

    protected override void SetLink(bool up) => _port!.SetLink(up);

    protected override string Describe(IPort port) => port is DpdkPort p ? $"device stats [{string.Join(", ", p.DeviceStats())}]" : "";

    public override void Dispose()
    {
        _port?.Dispose();
        base.Dispose();
    }
}
