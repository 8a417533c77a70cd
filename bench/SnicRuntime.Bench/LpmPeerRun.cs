using System.Diagnostics;
using System.Globalization;
using SnicRuntime.Firmware.Routing;

namespace SnicRuntime.Bench;

/// <summary>
/// Our side of the rte_lpm comparison (bench/peers/rte_lpm_peer.c): the same routes, the same
/// keys, bursts of 32, a warm-up pass then a timed pass. Route and key generation must match the
/// C program bit for bit (see its header comment).
/// </summary>
internal static class LpmPeerRun
{
    private const int Burst = 32;

    public static int Run(string[] args)
    {
        long routes = 1_000_000, lookups = 16_000_000;
        ulong seed = 42;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--routes": routes = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--lookups": lookups = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seed": seed = ulong.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"lpm-peer: unknown argument '{args[i]}'");
                    return 2;
            }
        }

        using var lpm = new Lpm4(maxLongGroups: 1 << 17);
        ulong s = seed;
        for (long i = 0; i < routes; i++)
        {
            ulong r = BenchKeys.Next(ref s);
            int depth = DepthOf(r);
            uint prefix = depth == 0 ? 0 : (uint)r & (uint.MaxValue << (32 - depth));
            if (!lpm.Add(prefix, depth, (uint)(i & 0xFFFFFF)))
            {
                Console.Error.WriteLine($"lpm-peer: add {i} failed (second-level groups exhausted)");
                return 1;
            }
        }

        var keys = new uint[lookups];
        ulong k = seed + 1;
        for (long j = 0; j < lookups; j++)
        {
            keys[j] = (uint)BenchKeys.Next(ref k);
        }

        Span<long> hops = stackalloc long[Burst];
        long found = 0;
        for (int pass = 0; pass < 2; pass++)
        {
            long n = pass == 0 ? lookups / 10 : lookups;
            found = 0;
            long t0 = Stopwatch.GetTimestamp();
            for (long j = 0; j + Burst <= n; j += Burst)
            {
                found += lpm.LookupBulk(new ReadOnlySpan<uint>(keys, (int)j, Burst), hops);
            }

            double ns = Stopwatch.GetElapsedTime(t0).TotalNanoseconds;
            if (pass == 1)
            {
                Console.WriteLine(FormattableString.Invariant($"ns_per_lookup={ns / (n - n % Burst):F2} found={found}"));
            }
        }

        return 0;
    }

    private static int DepthOf(ulong r)
    {
        uint c = (uint)(r >> 56), x = (uint)(r >> 40) & 7;
        return c < 200 ? 24 : c < 230 ? 16 + (int)x : c < 250 ? 25 + (int)x : 8 + (int)x;
    }
}
