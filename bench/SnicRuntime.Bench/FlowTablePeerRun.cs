using System.Diagnostics;
using System.Globalization;
using SnicRuntime.Firmware.Flows;

namespace SnicRuntime.Bench;

/// <summary>
/// Our side of the rte_hash comparison (bench/peers/rte_hash_peer.c): the same keys, the same
/// lookup order, bursts of 32, one warm-up pass then a timed pass. Prints the same line format.
/// Key generation must match the C program bit for bit (see its header comment).
/// </summary>
internal static class FlowTablePeerRun
{
    private const int Burst = 32;

    public static int Run(string[] args)
    {
        long flows = 1_000_000, lookups = 8_000_000;
        ulong seed = 42;
        int keyLength = 16;
        bool miss = false;
        double load = 0.8;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--flows": flows = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--key": keyLength = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--lookups": lookups = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seed": seed = ulong.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--miss": miss = true; break;
                case "--load": load = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"flowtable-peer: unknown argument '{args[i]}'");
                    return 2;
            }
        }

        return keyLength switch
        {
            16 => Measure<FlowKeyV4>(flows, lookups, seed, miss, load, (s, i) => { ulong st = s + i * 0x10000UL; return FlowKeyV4.FromRaw(Next(ref st), Next(ref st)); }),
            40 => Measure<FlowKeyV6>(flows, lookups, seed, miss, load, (s, i) =>
            {
                ulong st = s + i * 0x10000UL;
                return FlowKeyV6.FromRaw(Next(ref st), Next(ref st), Next(ref st), Next(ref st), Next(ref st));
            }),
            _ => Fail("--key must be 16 or 40"),
        };
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

    private static int Fail(string message)
    {
        Console.Error.WriteLine("flowtable-peer: " + message);
        return 2;
    }

    /// <summary>splitmix64, as in the C peer.</summary>
    private static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static int Measure<TKey>(long flows, long lookups, ulong seed, bool miss, double load, Func<ulong, ulong, TKey> make)
        where TKey : unmanaged, IFlowKey<TKey>
    {
        using var table = new FlowTable<TKey>((int)flows, load);
        for (long i = 0; i < flows; i++)
        {
            InsertResult r = table.Insert(make(seed, (ulong)i), default, out _);
            if (r != InsertResult.Inserted)
            {
                return Fail($"insert {i} of {flows}: {r} (count {table.Count}, full {table.Counters.InsertFailedFull})");
            }
        }

        var stream = new TKey[lookups];
        ulong order = seed + 1;
        for (long j = 0; j < lookups; j++)
        {
            stream[j] = make(miss ? seed ^ 0x5EED : seed, Next(ref order) % (ulong)flows);
        }

        Span<int> positions = stackalloc int[Burst];
        long hits = 0;
        long gen0 = GC.CollectionCount(0);
        for (int pass = 0; pass < 2; pass++)
        {
            long n = pass == 0 ? lookups / 10 : lookups;
            hits = 0;
            long t0 = Stopwatch.GetTimestamp();
            for (long j = 0; j + Burst <= n; j += Burst)
            {
                hits += table.LookupBulk(new ReadOnlySpan<TKey>(stream, (int)j, Burst), positions);
            }

            double ns = Stopwatch.GetElapsedTime(t0).TotalNanoseconds;
            if (pass == 1)
            {
                Console.WriteLine(FormattableString.Invariant(
                    $"ns_per_lookup={ns / (n - n % Burst):F2} hits={hits} bytes_per_flow={table.BytesPerFlow:F1} gc_gen0={GC.CollectionCount(0) - gen0} huge_pages_mb={HugePagesInUseMb()}"));
            }
        }

        return 0;
    }
}
