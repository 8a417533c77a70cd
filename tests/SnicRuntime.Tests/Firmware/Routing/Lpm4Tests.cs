using SnicRuntime.Firmware.Routing;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Routing;

/// <summary>DIR-24-8 against a linear scan over the same rules, through adds and removes.</summary>
public class Lpm4Tests
{
    private static long LinearScan(Dictionary<(uint, int), uint> rules, uint address)
    {
        int best = -1;
        long nh = -1;
        foreach (((uint prefix, int depth), uint hop) in rules)
        {
            uint mask = depth == 0 ? 0 : uint.MaxValue << (32 - depth);
            if ((address & mask) == prefix && depth > best)
            {
                best = depth;
                nh = hop;
            }
        }

        return nh;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Matches_a_linear_scan_through_adds_and_removes(int seed)
    {
        TestSeeds.Run(seed, rng =>
        {
            using var lpm = new Lpm4(maxLongGroups: 4096);
            var model = new Dictionary<(uint, int), uint>();
            // Rules cluster under a few /8s and /16s so prefixes nest and overlap at every depth,
            // including across the /24 boundary where the second level begins.
            uint[] bases = [0x0A000000, 0x0A010000, 0xC0A80000, 0xC0A80100, 0x64400000];
            uint Pick() => bases[rng.Next(bases.Length)] | (uint)rng.Next(0, 1 << 12) << (rng.Next(2) == 0 ? 0 : 8);
            for (int step = 0; step < 3000; step++)
            {
                // Short prefixes rewrite up to 16M first-level entries each: a few suffice.
                int depth = rng.Next(100) switch { 0 => rng.Next(0, 9), < 40 => rng.Next(9, 25), _ => rng.Next(25, 33) };
                uint address = Pick();
                uint prefix = depth == 0 ? 0 : address & (uint.MaxValue << (32 - depth));
                if (rng.Next(4) == 0 && model.Count > 0)
                {
                    (uint p, int d) = model.Keys.ElementAt(rng.Next(model.Count));
                    Assert.True(lpm.Remove(p, d));
                    model.Remove((p, d));
                }
                else
                {
                    uint nh = (uint)rng.Next(1 << 20);
                    Assert.True(lpm.Add(prefix, depth, nh));
                    model[(prefix, depth)] = nh;
                }

                if (step % 150 == 0)
                {
                    for (int q = 0; q < 300; q++)
                    {
                        uint a = q % 2 == 0 ? Pick() : (uint)rng.Next() << 1 ^ (uint)rng.Next(2);
                        Assert.Equal(LinearScan(model, a), lpm.Lookup(a));
                    }
                }
            }

            Assert.Equal(model.Count, lpm.RuleCount);
            uint[] burst = Enumerable.Range(0, 64).Select(_ => Pick()).ToArray();
            long[] hops = new long[64];
            int found = lpm.LookupBulk(burst, hops);
            Assert.Equal(burst.Count(a => LinearScan(model, a) >= 0), found);
            Assert.Equal(burst.Select(a => LinearScan(model, a)), hops);
        });
    }

    [Fact]
    public void Bulk_lookup_of_every_length_agrees_with_one_by_one()
    {
        // Bursts of 1..80 over addresses where hits, misses and second-level entries mix within
        // every group of eight (the gathered path) and in the tails (the scalar loop).
        TestSeeds.Run(7, rng =>
        {
            using var lpm = new Lpm4(maxLongGroups: 64);
            lpm.Add(0x0A000000, 8, 1);
            for (uint b = 0; b < 32; b++)
            {
                lpm.Add(0x0A000000 | b << 9, 24, 100 + b);   // every other /24 under 10/8
                lpm.Add(0x0A000080 | b << 9, 25, 200 + b);   // a second-level entry in it
                lpm.Add(0x0B000000 | b << 8, 24, 300 + b);   // an island outside any default
            }

            uint Pick() => rng.Next(4) switch
            {
                0 => 0x0A000000 | (uint)rng.Next(1 << 16),
                1 => 0x0B000000 | (uint)rng.Next(1 << 13),
                2 => (uint)rng.Next(),
                _ => 0x0A000000 | (uint)rng.Next(32) << 9 | (uint)rng.Next(256),
            };

            for (int length = 1; length <= 80; length++)
            {
                uint[] burst = Enumerable.Range(0, length).Select(_ => Pick()).ToArray();
                long[] hops = new long[length];
                int found = lpm.LookupBulk(burst, hops);
                long[] expected = burst.Select(lpm.Lookup).ToArray();
                Assert.Equal(expected, hops);
                Assert.Equal(expected.Count(h => h >= 0), found);
            }

            Assert.Contains(Enumerable.Range(0, 1000).Select(_ => lpm.Lookup(Pick())), h => h >= 200 && h < 232);
        });
    }

    [Fact]
    public void Default_route_host_routes_and_removal_fall_back()
    {
        using var lpm = new Lpm4(16);
        Assert.Equal(-1, lpm.Lookup(0x01020304));
        lpm.Add(0, 0, 1);
        lpm.Add(0x0A000000, 8, 2);
        lpm.Add(0x0A010200, 24, 3);
        lpm.Add(0x0A010280, 25, 4);
        lpm.Add(0x0A0102FF, 32, 5);
        Assert.Equal(1, lpm.Lookup(0x01020304));
        Assert.Equal(2, lpm.Lookup(0x0A7F0000));
        Assert.Equal(3, lpm.Lookup(0x0A010201));
        Assert.Equal(4, lpm.Lookup(0x0A010281));
        Assert.Equal(5, lpm.Lookup(0x0A0102FF));
        Assert.True(lpm.Remove(0x0A010280, 25));
        Assert.Equal(3, lpm.Lookup(0x0A010281));
        Assert.Equal(5, lpm.Lookup(0x0A0102FF));
        Assert.True(lpm.Remove(0x0A010200, 24));
        Assert.Equal(2, lpm.Lookup(0x0A010281));
        Assert.False(lpm.Remove(0x0A010200, 24));
        Assert.Throws<ArgumentOutOfRangeException>(() => lpm.Add(0, 33, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => lpm.Add(0, 8, 1u << 24));
    }

    [Fact]
    public void Running_out_of_long_prefix_groups_is_refused_without_change()
    {
        using var lpm = new Lpm4(maxLongGroups: 2);
        Assert.True(lpm.Add(0x0A000080, 25, 1));
        Assert.True(lpm.Add(0x0A000180, 25, 2));
        Assert.False(lpm.Add(0x0A000280, 25, 3));
        Assert.Equal(2, lpm.RuleCount);
        Assert.Equal(-1, lpm.Lookup(0x0A000281));
        Assert.True(lpm.Add(0x0A000090, 28, 4)); // same /24 as the first: no new group needed
        Assert.Equal(4, lpm.Lookup(0x0A000091));
    }

    [Fact]
    public void Removing_the_long_routes_of_a_block_frees_its_group_for_reuse()
    {
        using var lpm = new Lpm4(maxLongGroups: 2);
        Assert.True(lpm.Add(0x0A000000, 16, 7));
        for (uint host = 0; host < 50; host++)
        {
            Assert.True(lpm.Add(0x0A000100 | host, 32, host));
        }

        Assert.True(lpm.Add(0x0A000280, 25, 99));
        Assert.Equal(2, lpm.GroupsInUse);
        Assert.False(lpm.Add(0x0A000380, 25, 98)); // both groups taken

        for (uint host = 0; host < 50; host++)
        {
            Assert.True(lpm.Remove(0x0A000100 | host, 32));
        }

        Assert.Equal(1, lpm.GroupsInUse);            // 10.0.1.0/24 says only "/16 → 7" again
        Assert.Equal(7, lpm.Lookup(0x0A000105));
        Assert.True(lpm.Add(0x0A000380, 25, 98));   // the freed group is reused
        Assert.Equal(98, lpm.Lookup(0x0A000381));
        Assert.Equal(7, lpm.Lookup(0x0A000301));
        Assert.Equal(99, lpm.Lookup(0x0A000290));

        // A shorter rule's removal can also leave a group uniform (all empty here).
        Assert.True(lpm.Remove(0x0A000280, 25));
        Assert.True(lpm.Remove(0x0A000000, 16));
        Assert.Equal(1, lpm.GroupsInUse);            // 10.0.3.0/24 still holds its /25
        Assert.True(lpm.Remove(0x0A000380, 25));
        Assert.Equal(0, lpm.GroupsInUse);
        Assert.Equal(-1, lpm.Lookup(0x0A000381));
    }
}
