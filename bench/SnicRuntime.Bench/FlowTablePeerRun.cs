using System.Globalization;
using SnicRuntime.Firmware.Flows;

namespace SnicRuntime.Bench;

/// <summary>
/// Our side of the rte_hash comparison (bench/peers/rte_hash_peer.c): the same keys
/// (<see cref="BenchKeys.Make{TKey}"/> mirrors the C generator bit for bit), the same lookup order,
/// the same timed loop (<see cref="PeerTiming"/>).
/// </summary>
internal static class FlowTablePeerRun
{
    public static int Run(string[] args)
    {
        Dictionary<string, string>? a = PeerTiming.Arguments("flowtable-peer", args, "--flows", "--key", "--lookups", "--seed", "--miss", "--load");
        if (a is null)
        {
            return 2;
        }

        long flows = PeerTiming.Long(a, "--flows", 1_000_000);
        long lookups = PeerTiming.Long(a, "--lookups", 8_000_000);
        ulong seed = (ulong)PeerTiming.Long(a, "--seed", 42);
        bool miss = a.ContainsKey("--miss");
        double load = a.TryGetValue("--load", out string? l) ? double.Parse(l, CultureInfo.InvariantCulture) : 0.8;
        return PeerTiming.Long(a, "--key", 16) switch
        {
            16 => Measure<FlowKeyV4>(flows, lookups, seed, miss, load),
            40 => Measure<FlowKeyV6>(flows, lookups, seed, miss, load),
            _ => Fail("--key must be 16 or 40"),
        };
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("flowtable-peer: " + message);
        return 2;
    }

    private static int Measure<TKey>(long flows, long lookups, ulong seed, bool miss, double load)
        where TKey : unmanaged, IFlowKey<TKey>
    {
        using var table = new FlowTable<TKey>((int)flows, load);
        for (long i = 0; i < flows; i++)
        {
            InsertResult r = table.Insert(BenchKeys.Make<TKey>(seed, (ulong)i), default, out _);
            if (r != InsertResult.Inserted)
            {
                return Fail($"insert {i} of {flows}: {r} (count {table.Count})");
            }
        }

        var stream = new TKey[lookups];
        ulong order = seed + 1;
        for (long j = 0; j < lookups; j++)
        {
            stream[j] = BenchKeys.Make<TKey>(miss ? seed ^ 0x5EED : seed, BenchKeys.Next(ref order) % (ulong)flows);
        }

        var positions = new int[PeerTiming.Burst];
        long gen0 = GC.CollectionCount(0);
        (double ns, long hits) = PeerTiming.Time(lookups, j => table.LookupBulk(new ReadOnlySpan<TKey>(stream, (int)j, PeerTiming.Burst), positions));
        Console.WriteLine(FormattableString.Invariant(
            $"ns_per_lookup={ns:F2} hits={hits} bytes_per_flow={table.BytesPerFlow:F1} gc_gen0={GC.CollectionCount(0) - gen0} huge_pages_mb={HugePagesInUseMb()}"));
        return 0;
    }

    /// <summary>Transparent huge pages this process has, from /proc (0 where not Linux).</summary>
    private static long HugePagesInUseMb()
    {
        const string Rollup = "/proc/self/smaps_rollup";
        if (!File.Exists(Rollup))
        {
            return 0;
        }

        string? line = File.ReadLines(Rollup).FirstOrDefault(l => l.StartsWith("AnonHugePages:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }
}
