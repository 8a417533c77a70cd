using BenchmarkDotNet.Attributes;
using SnicRuntime.Firmware.Flows;

namespace SnicRuntime.Bench;

/// <summary>Random keys from splitmix64, the same generator the rte_hash peer uses.</summary>
internal static class BenchKeys
{
    public static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public static TKey Make<TKey>(ulong seed, ulong i) where TKey : unmanaged, IFlowKey<TKey>
    {
        ulong st = seed + i * 0x10000UL;
        object key = typeof(TKey) == typeof(FlowKeyV4)
            ? FlowKeyV4.FromRaw(Next(ref st), Next(ref st))
            : FlowKeyV6.FromRaw(Next(ref st), Next(ref st), Next(ref st), Next(ref st), Next(ref st));
        return (TKey)key; // setup only: the boxing never reaches a measured method
    }
}

/// <summary>Bulk lookup of 32 random keys, hits and misses, at table sizes from L1 to DRAM.</summary>
[GenericTypeArguments(typeof(FlowKeyV4))]
[GenericTypeArguments(typeof(FlowKeyV6))]
public class FlowTableLookupBenchmarks<TKey> where TKey : unmanaged, IFlowKey<TKey>
{
    private const int Burst = 32;
    private const int StreamLength = 1 << 20;
    private FlowTable<TKey> _table = null!;
    private TKey[] _stream = [];
    private readonly int[] _positions = new int[Burst];
    private int _cursor;

    [Params(1024, 65536, 1048576, 4194304)]
    public int Flows { get; set; }

    [Params(false, true)]
    public bool Miss { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _table = new FlowTable<TKey>(Flows);
        for (int i = 0; i < Flows; i++)
        {
            _table.Insert(BenchKeys.Make<TKey>(42, (ulong)i), default, out _);
        }

        _stream = new TKey[StreamLength];
        ulong order = 43;
        for (int j = 0; j < StreamLength; j++)
        {
            _stream[j] = BenchKeys.Make<TKey>(Miss ? 42 ^ 0x5EEDUL : 42, BenchKeys.Next(ref order) % (ulong)Flows);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _table.Dispose();

    [Benchmark(OperationsPerInvoke = Burst)]
    public int LookupBulk32()
    {
        int c = _cursor;
        _cursor = (c + Burst) & (StreamLength - 1);
        return _table.LookupBulk(new ReadOnlySpan<TKey>(_stream, c, Burst), _positions);
    }
}

/// <summary>Insert one flow and delete another, at a steady 80 % fill of a 1M-flow table; and one aging tick.</summary>
public class FlowTableUpdateBenchmarks
{
    private const int Capacity = 1 << 20;
    private const int Live = Capacity * 8 / 10;
    private FlowTable<FlowKeyV4> _table = null!;
    private FlowKeyV4[] _keys = [];
    private int _next;
    private FlowTable<FlowKeyV4> _aging = null!;
    private uint _now;

    [GlobalSetup]
    public void Setup()
    {
        _table = new FlowTable<FlowKeyV4>(Capacity);
        _keys = new FlowKeyV4[Capacity * 2];
        for (int i = 0; i < _keys.Length; i++)
        {
            _keys[i] = BenchKeys.Make<FlowKeyV4>(7, (ulong)i);
        }

        for (int i = 0; i < Live; i++)
        {
            _table.Insert(_keys[i], default, out _);
        }

        _next = Live;

        // Aging: 800K live UDP flows whose timeout (1 h) is longer than the wheel (4096 × 1 ms),
        // so every tick visits the ~200 flows filed in its slot and re-files them: the steady
        // cost of a busy card where most flows stay alive.
        var policy = new AgingPolicy { TickMs = 1, UdpMs = 3_600_000, WheelSlots = 4096 };
        _aging = new FlowTable<FlowKeyV4>(Capacity, aging: policy);
        for (int i = 0; i < Live; i++)
        {
            _aging.Insert(_keys[i], new FlowEntry { Flags = FlowFlags.Udp, LastSeenMs = (uint)(i % 4096) }, out _);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _table.Dispose();
        _aging.Dispose();
    }

    [Benchmark]
    public InsertResult InsertAndDelete()
    {
        int n = _next;
        _next = n + 1 == _keys.Length ? 0 : n + 1;
        int old = n - Live;
        _table.Delete(_keys[old < 0 ? old + _keys.Length : old]);
        return _table.Insert(_keys[n], default, out _);
    }

    /// <summary>One 1 ms tick over 800K live flows: about 200 flows visited and re-filed.</summary>
    [Benchmark]
    public int AgingTick()
    {
        _now++;
        return _aging.AdvanceAging(_now);
    }
}
