using BenchmarkDotNet.Attributes;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Emulated;

namespace SnicRuntime.Bench;

/// <summary>
/// The worker's fast path with the flow table: rx burst, parse, flow lookup (hit), touch, tx,
/// over 1,024 or 65,536 live connections in tables holding 1M flows per worker. The frames are generated
/// traffic (TCP, UDP, ICMP, IPv4/IPv6, half VXLAN) whose flows were created beforehand, so every
/// measured packet is a flow hit. Like a NIC, the wire side writes each arriving frame into a
/// recycled buffer (32 of them, as a mempool cache keeps buffers warm) — that copy, the inject and
/// the drain run on the same thread and are included: the figure is an upper bound on the
/// worker's cost per packet. No encap yet (the policy pipeline adds it).
/// </summary>
public class FastPathBenchmarks
{
    private const int Burst = 32;
    /// <summary>Connections the traffic cycles through (a power of two).</summary>
    [Params(1024, 65536)]
    public int Connections { get; set; } = 65536;

    private PacketPool _pool = null!;
    private EmulatedPort _in = null!;
    private EmulatedPort _out = null!;
    private IWorker _worker = null!;
    private WorkerFlows<DefaultFlowPolicy> _flows = null!;
    private PacketRef[] _frames = [];
    private byte[][] _wire = [];
    private PacketRef[] _buffers = [];
    private int _cursor;

    [GlobalSetup]
    public void Setup()
    {
        _pool = new PacketPool(Connections + 1024);
        _in = new EmulatedPort(new PortSpec(0, "in", 1, 1024, 1024, 100), _pool, null);
        _out = new EmulatedPort(new PortSpec(1, "out", 1, 1024, 1024, 100), _pool, null);
        var forward = PortForwardStage.Pairs(2);
        _flows = new WorkerFlows<DefaultFlowPolicy>(1 << 20, new DefaultFlowPolicy(forward, FlowCreation.AnyPacket));
        _worker = new Worker<EmulatedRxQueue, EmulatedTxQueue, FlowStage<DefaultFlowPolicy>>(0,
            [_in.RxQueue(0), _out.RxQueue(0)], [_in.TxQueue(0), _out.TxQueue(0)], new FlowStage<DefaultFlowPolicy>(_flows), _pool);

        // Fill the IPv4 table towards 1M with other flows, so lookups walk a full-size table.
        for (int i = 0; _flows.V4.Count < (1 << 20) - Connections; i++)
        {
            _flows.V4.Insert(BenchKeys.Make<FlowKeyV4>(99, (ulong)i), new FlowEntry { Flags = FlowFlags.Udp }, out _);
        }

        // One frame per connection (the first packet of each generated flow slot).
        var gen = new TrafficGenerator(new TrafficProfile { Flows = Connections, DataPacketsPerFlow = 1000 }, _pool);
        _frames = new PacketRef[Connections];
        gen.Fill(_frames);
        _wire = _frames.Select(f => f.Data.ToArray()).ToArray();
        _pool.FreeBulk(_frames);
        _buffers = new PacketRef[Burst];
        _pool.AllocBulk(_buffers);

        // Create every flow: one pass through the worker.
        for (int i = 0; i < Connections; i += Burst)
        {
            ForwardAt(i);
        }
    }

    private int ForwardAt(int first)
    {
        for (int k = 0; k < Burst; k++)
        {
            byte[] frame = _wire[first + k];
            _buffers[k].SetLength(frame.Length);
            frame.CopyTo(_buffers[k].Data);
        }

        _in.Inject(_buffers);
        int n = _worker.PollOnce();
        _out.Drain(_buffers);
        return n;
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public int FlowHitForward()
    {
        int i = _cursor;
        _cursor = (i + Burst) & (Connections - 1);
        return ForwardAt(i);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _flows.Dispose();
        _in.Dispose();
        _out.Dispose();
        _pool.Dispose();
    }
}
