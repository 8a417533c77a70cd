using SnicRuntime.Firmware.Routing;

namespace SnicRuntime.Bench;

/// <summary>
/// Our side of the rte_lpm6 comparison (bench/peers/rte_lpm6_peer.c): same routes and keys (the
/// generation mirrors the C program draw for draw, see its header), same loop, same checksum.
/// </summary>
internal static class Lpm6PeerRun
{
    public static int Run(string[] args)
    {
        Dictionary<string, string>? a = PeerTiming.Arguments("lpm6-peer", args, "--routes", "--lookups", "--seed");
        if (a is null)
        {
            return 2;
        }

        long routes = PeerTiming.Long(a, "--routes", 100_000);
        long lookups = PeerTiming.Long(a, "--lookups", 8_000_000);
        ulong seed = (ulong)PeerTiming.Long(a, "--seed", 42);
        var alloc = new uint[1024];
        ulong sa = seed + 2;
        for (int i = 0; i < alloc.Length; i++)
        {
            alloc[i] = 0x2000_0000u | ((uint)BenchKeys.Next(ref sa) & 0x0FFF_FFFF);
        }

        static UInt128 Address(uint top, ulong mid) => new((ulong)top << 32 | mid >> 32, mid << 32);

        var list = new List<(UInt128, int, int)>();
        ulong s = seed;
        for (long i = 0; i < routes; i++)
        {
            ulong r = BenchKeys.Next(ref s);
            ulong mid = BenchKeys.Next(ref s);
            uint c = (uint)(r >> 56);
            int depth = c < 128 ? 48 : c < 192 ? 32 + (int)((r >> 32) % 16) : c < 240 ? (((r >> 33) & 1) != 0 ? 64 : 56) : 16 + (int)((r >> 32) % 16);
            UInt128 ip = Address(alloc[(r >> 40) % 1024], mid);
            list.Add((ip & (UInt128.MaxValue << (128 - depth)), depth, (int)(i & 0xFFFFF)));
        }

        var build = System.Diagnostics.Stopwatch.StartNew();
        Lpm6 lpm = Lpm6.Build(list);
        Console.Error.WriteLine($"lpm6-peer: built {routes} routes in {build.Elapsed.TotalSeconds:F1} s, {lpm.TotalBytes >> 20} MiB ({lpm.NodeCount} nodes)");

        var keys = new UInt128[lookups];
        ulong k = seed + 1;
        for (long j = 0; j < lookups; j++)
        {
            ulong v = BenchKeys.Next(ref k);
            keys[j] = Address(alloc[(v >> 40) % 1024], BenchKeys.Next(ref k));
        }

        var values = new int[PeerTiming.Burst];
        long checksum = 0;
        (double ns, long found) = PeerTiming.Time(lookups, j =>
        {
            lpm.LookupBulk(keys.AsSpan((int)j, PeerTiming.Burst), values);
            long hits = 0;
            foreach (int v in values)
            {
                hits += v >= 0 ? 1 : 0;
                checksum += v + 1;
            }

            return hits;
        });
        // Time() runs a warm-up pass then the timed pass; keep the timed pass's checksum only.
        checksum = 0;
        for (long j = 0; j + PeerTiming.Burst <= lookups; j += PeerTiming.Burst)
        {
            lpm.LookupBulk(keys.AsSpan((int)j, PeerTiming.Burst), values);
            foreach (int v in values)
            {
                checksum += v + 1;
            }
        }

        Console.WriteLine(FormattableString.Invariant($"ns_per_lookup={ns:F2} found={found} checksum={checksum}"));
        return 0;
    }
}
