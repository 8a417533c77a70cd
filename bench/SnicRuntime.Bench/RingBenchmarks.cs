using BenchmarkDotNet.Attributes;
using SnicRuntime.Hal;

namespace SnicRuntime.Bench;

/// <summary>SPSC ring and packet pool cost per packet for bursts of 32, single thread.</summary>
public class RingBenchmarks
{
    private const int Burst = 32;
    private SpscRing<PacketRef> _ring = null!;
    private PacketPool _pool = null!;
    private readonly PacketRef[] _in = new PacketRef[Burst];
    private readonly PacketRef[] _out = new PacketRef[Burst];

    [GlobalSetup]
    public void Setup()
    {
        _ring = new SpscRing<PacketRef>(1024);
        _pool = new PacketPool(4096);
        _pool.AllocBulk(_in);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ring.Dispose();
        _pool.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public int EnqueueDequeueBurst()
    {
        _ring.EnqueueBurst(_in);
        return _ring.DequeueBurst(_out);
    }

    [Benchmark(OperationsPerInvoke = Burst)]
    public int PoolAllocFreeBurst()
    {
        int n = _pool.AllocBulk(_out);
        _pool.FreeBulk(_out.AsSpan(0, n));
        return n;
    }
}
