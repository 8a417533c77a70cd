using SnicRuntime.Tests.Hal.Core;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Pcap;

namespace SnicRuntime.Tests.Hal.Pcap;

/// <summary>The capture-file driver under the queue contract: one port appends to a pcap file, another follows it.</summary>
public sealed class PcapQueueContractTests : RxTxQueueContract<PcapRxQueue, PcapTxQueue>
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"snic-pcap-port-{Guid.NewGuid():N}.pcap");
    private PcapPort? _tx;
    private PcapPort? _rx;

    protected override (PcapTxQueue Tx, PcapRxQueue Rx, IPort TxPort, IPort RxPort) OpenLoop(int depth)
    {
        _tx = new PcapPort(new PortSpec(0, "out", 1, depth, depth, 10), Pool, input: null, output: _path);
        _rx = new PcapPort(new PortSpec(1, "in", 1, depth, depth, 10), Pool, input: _path, output: null);
        return (_tx.TxQueue(), _rx.RxQueue(), _tx, _rx);
    }

    protected override void SetLink(bool up) => _tx!.SetLink(up);

    public override void Dispose()
    {
        _tx?.Dispose();
        _rx?.Dispose();
        File.Delete(_path);
        base.Dispose();
    }
}
