using BenchmarkDotNet.Attributes;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Emulated;

namespace SnicRuntime.Bench;

/// <summary>
/// One worker's whole loop per packet: rx burst from the emulated ring, parse, stage (cross-connect),
/// tx burst. The wire side (refill rx, empty tx) runs on the same thread between polls and is
/// included, so this is an upper bound on the worker's own cost.
/// </summary>
public class ForwardBenchmarks
{
    private const int Burst = 32;
    private PacketPool _pool = null!;
    private EmulatedPort _in = null!;
    private EmulatedPort _out = null!;
    private IWorker _worker = null!;
    private readonly PacketRef[] _frames = new PacketRef[Burst];
    private readonly PacketRef[] _drained = new PacketRef[Burst];

    [Params(false, true)]
    public bool Vxlan { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pool = new PacketPool(1024);
        _in = new EmulatedPort(new PortSpec(0, "in", 1, 256, 256, 100), _pool, null);
        _out = new EmulatedPort(new PortSpec(1, "out", 1, 256, 256, 100), _pool, null);
        _pool.AllocBulk(_frames);
        for (int i = 0; i < Burst; i++)
        {
            byte[] f = Vxlan ? Frames.VxlanInnerIpv6(i) : Frames.Ipv4Tcp(i);
            _frames[i].SetLength(f.Length);
            f.CopyTo(_frames[i].Data);
        }

        var stage = PortForwardStage.Pairs(2);
        _worker = new Worker<EmulatedRxQueue, EmulatedTxQueue, PortForwardStage>(0,
            [_in.RxQueue(0), _out.RxQueue(0)], [_in.TxQueue(0), _out.TxQueue(0)], stage, _pool);
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public int ForwardBurst()
    {
        _in.Inject(_frames);
        int n = _worker.PollOnce();
        _out.Drain(_drained);
        return n;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _in.Dispose();
        _out.Dispose();
        _pool.Dispose();
    }
}
