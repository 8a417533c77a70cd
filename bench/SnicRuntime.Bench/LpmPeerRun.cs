using SnicRuntime.Firmware.Routing;

namespace SnicRuntime.Bench;

/// <summary>
/// Our side of the rte_lpm comparison (bench/peers/rte_lpm_peer.c): the same routes and keys
/// (generation mirrors the C program bit for bit, see its header), the same timed loop.
/// </summary>
internal static class LpmPeerRun
{
    public static int Run(string[] args)
    {
        Dictionary<string, string>? a = PeerTiming.Arguments("lpm-peer", args, "--routes", "--lookups", "--seed");
        if (a is null)
        {
            return 2;
        }

        long routes = PeerTiming.Long(a, "--routes", 1_000_000);
        long lookups = PeerTiming.Long(a, "--lookups", 16_000_000);
        ulong seed = (ulong)PeerTiming.Long(a, "--seed", 42);
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

        var hops = new long[PeerTiming.Burst];
        (double ns, long found) = PeerTiming.Time(lookups, j => lpm.LookupBulk(new ReadOnlySpan<uint>(keys, (int)j, PeerTiming.Burst), hops));
        Console.WriteLine(FormattableString.Invariant($"ns_per_lookup={ns:F2} found={found}"));
        return 0;
    }

    private static int DepthOf(ulong r)
    {
        uint c = (uint)(r >> 56), x = (uint)(r >> 40) & 7;
        return c < 200 ? 24 : c < 230 ? 16 + (int)x : c < 250 ? 25 + (int)x : 8 + (int)x;
    }
}
