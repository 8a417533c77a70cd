using FsCheck.Xunit;
using SnicRuntime.Firmware.Routing;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Routing;

/// <summary>IntervalMap (IPv4/IPv6) and the IPv6 trie against a linear scan for the longest covering prefix.</summary>
public sealed class RangeLpmModelTests
{
    private static int Scan<T>(List<(T Prefix, int Length, int Value)> routes, T address, int bits)
        where T : unmanaged, System.Numerics.IBinaryInteger<T>, System.Numerics.IUnsignedNumber<T>
    {
        int best = -1, bestLength = -1;
        foreach (var (prefix, length, value) in routes)
        {
            T mask = length == 0 ? T.Zero : T.AllBitsSet << (bits - length);
            if ((address & mask) == (prefix & mask) && length >= bestLength)
            {
                best = value; // later duplicates win, as in the structures under test
                bestLength = length;
            }
        }

        return best;
    }

    private static uint Address4(Random rng) => (uint)rng.Next(3) << 30 | (uint)rng.Next(4) << 16 | (uint)rng.Next(1 << 12);

    [Property(MaxTest = 200)]
    public bool Ipv4_interval_map_agrees_with_a_scan(int seed)
    {
        var rng = new Random(seed);
        var routes = Enumerable.Range(0, 1 + Math.Abs(seed % 300)).Select(i =>
        {
            int len = rng.Next(33);
            uint p = len == 0 ? 0 : Address4(rng) & (uint.MaxValue << (32 - len));
            return (p, len, i);
        }).ToList();
        var map = IntervalMap<uint>.Build(routes.Select(r => PrefixRange<uint>.Of(r.p, r.len, r.i)));
        for (int q = 0; q < 500; q++)
        {
            uint a = q % 3 == 0 ? routes[rng.Next(routes.Count)].p : Address4(rng);
            if (map.Lookup(a) != Scan(routes, a, 32))
            {
                return false;
            }
        }

        return map.Lookup(0) == Scan(routes, 0u, 32) && map.Lookup(uint.MaxValue) == Scan(routes, uint.MaxValue, 32);
    }

    private static UInt128 Address6(Random rng) =>
        new UInt128(0x2001_0db8_0000_0000UL | (ulong)(uint)rng.Next(4) << 16 | (uint)rng.Next(2), (uint)rng.Next(1 << 16));

    [Property(MaxTest = 150)]
    public bool Ipv6_trie_and_interval_map_agree_with_a_scan(int seed)
    {
        var rng = new Random(seed);
        var routes = Enumerable.Range(0, 1 + Math.Abs(seed % 200)).Select(i =>
        {
            int len = rng.Next(4) == 0 ? rng.Next(129) : 32 + rng.Next(4) * 16;
            UInt128 p = len == 0 ? UInt128.Zero : Address6(rng) & (UInt128.MaxValue << (128 - len));
            return (p, len, i);
        }).ToList();
        Lpm6 trie = Lpm6.Build(routes);
        var map = IntervalMap<UInt128>.Build(routes.Select(r => PrefixRange<UInt128>.Of(r.p, r.len, r.i)));
        for (int q = 0; q < 400; q++)
        {
            UInt128 a = q % 3 == 0 ? routes[rng.Next(routes.Count)].p : Address6(rng);
            int expected = Scan(routes, a, 128);
            if (trie.Lookup(a) != expected || map.Lookup(a) != expected)
            {
                return false;
            }
        }

        return true;
    }

    [Fact]
    public void Ipv6_trie_handles_100K_routes_and_reports_its_size()
    {
        TestSeeds.Run(5, rng =>
        {
            var routes = Enumerable.Range(0, 100_000).Select(i => (Address6(rng) & (UInt128.MaxValue << 80), 48, i)).ToList();
            Lpm6 trie = Lpm6.Build(routes);
            var last = routes.GroupBy(r => r.Item1).ToDictionary(g => g.Key, g => g.Last().i);
            foreach (var (p, _, _) in routes.Take(2000))
            {
                Assert.Equal(last[p], trie.Lookup(p | 0x1234));
            }

            Assert.True(trie.TotalBytes < 512L << 20, $"{trie.TotalBytes} bytes");
        });
    }
}
