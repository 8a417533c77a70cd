using FsCheck.Xunit;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Acl;
using SnicRuntime.Firmware.Routing;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Acl;

/// <summary>The ACL classifier against the obvious model: scan the rules in priority order, first match wins.</summary>
public sealed class AclClassifierModelTests
{
    // Addresses from a small space (two /8s, few /16s) so that prefixes of all lengths nest and
    // overlap often; otherwise random rules would rarely interact.
    private static uint Address(Random rng) =>
        (uint)(10 + rng.Next(2)) << 24 | (uint)rng.Next(4) << 16 | (uint)rng.Next(4) << 8 | (uint)rng.Next(256);

    private static PrefixRange<uint> Prefix(Random rng) => PrefixRange<uint>.Of(Address(rng), rng.Next(33) switch { < 3 => 0, var n => n }, 0);

    private static IReadOnlyList<PortRange> Ports(Random rng)
    {
        if (rng.Next(3) == 0)
        {
            return [];
        }

        ushort a = (ushort)rng.Next(1, 100);
        return [new PortRange(a, (ushort)(a + rng.Next(20))), new PortRange((ushort)(a + 200), (ushort)(a + 210))];
    }

    internal static List<AclRule<uint>> RandomRules(Random rng, int count, int prefixesPerRule)
    {
        var rules = new List<AclRule<uint>>();
        var priorities = Enumerable.Range(0, count * 3).OrderBy(_ => rng.Next()).Take(count).ToArray();
        for (int i = 0; i < count; i++)
        {
            rules.Add(new AclRule<uint>(
                priorities[i],
                (AclAction)rng.Next(4),
                rng.Next(4) == 0 ? [] : Enumerable.Range(0, rng.Next(1, prefixesPerRule + 1)).Select(_ => Prefix(rng)).ToList(),
                rng.Next(4) == 0 ? [] : Enumerable.Range(0, rng.Next(1, prefixesPerRule + 1)).Select(_ => Prefix(rng)).ToList(),
                rng.Next(3) == 0 ? [] : [(byte)(rng.Next(2) == 0 ? 6 : 17)],
                Ports(rng),
                Ports(rng)));
        }

        return rules;
    }

    private static bool AgreesWithScan(int seed, int rules, int prefixes, int queries)
    {
        var rng = new Random(seed);
        List<AclRule<uint>> list = RandomRules(rng, rules, prefixes);
        var group = new AclGroup<uint>("g", list);
        var byPriority = list.OrderBy(r => r.Priority).ToList();
        const int Burst = 32;
        var src = new uint[Burst];
        var dst = new uint[Burst];
        var proto = new byte[Burst];
        var sp = new ushort[Burst];
        var dp = new ushort[Burst];
        var bulk = new int[Burst];
        for (int q = 0; q < queries; q += Burst)
        {
            for (int i = 0; i < Burst; i++)
            {
                src[i] = Address(rng);
                dst[i] = Address(rng);
                proto[i] = (byte)(rng.Next(3) switch { 0 => 6, 1 => 17, _ => 1 });
                sp[i] = (ushort)rng.Next(320);
                dp[i] = (ushort)rng.Next(320);
            }

            group.ClassifyBulk(src, dst, proto, sp, dp, bulk);
            for (int i = 0; i < Burst; i++)
            {
                int expected = byPriority.FindIndex(r => r.Matches(src[i], dst[i], proto[i], sp[i], dp[i]));
                if (group.Classify(src[i], dst[i], proto[i], sp[i], dp[i]) != expected || bulk[i] != expected)
                {
                    return false;
                }
            }
        }

        return true;
    }

    [Property(MaxTest = 200)]
    public bool Small_groups_agree_with_a_linear_scan(int seed) => AgreesWithScan(seed, 1 + Math.Abs(seed % 40), 4, 300);

    [Fact]
    public void Large_groups_agree_with_a_linear_scan()
    {
        for (int seed = 0; seed < 5; seed++)
        {
            Assert.True(AgreesWithScan(seed, 1000, 20, 5000), $"seed {seed}");
        }
    }

    [Fact]
    public void Ipv6_groups_agree_with_a_linear_scan()
    {
        TestSeeds.Run(3, rng =>
        {
            UInt128 Addr() => (UInt128)0xfd00_0000_0000_0000UL << 64 | (UInt128)(ulong)rng.Next(4) << 80 | (UInt128)(ulong)rng.Next(4) << 64 | (ulong)rng.Next(256);
            var rules = Enumerable.Range(0, 300).Select(i => new AclRule<UInt128>(i, (AclAction)rng.Next(4),
                Enumerable.Range(0, rng.Next(4)).Select(_ => PrefixRange<UInt128>.Of(Addr(), rng.Next(129), 0)).ToList(),
                Enumerable.Range(0, rng.Next(4)).Select(_ => PrefixRange<UInt128>.Of(Addr(), rng.Next(129), 0)).ToList(),
                [], [], [])).ToList();
            var group = new AclGroup<UInt128>("v6", rules);
            for (int q = 0; q < 5000; q++)
            {
                UInt128 s = Addr(), d = Addr();
                Assert.Equal(rules.FindIndex(r => r.Matches(s, d, 17, 1, 1)), group.Classify(s, d, 17, 1, 1));
            }
        });
    }

    [Fact]
    public void Duplicate_priorities_are_refused()
    {
        AclRule<uint> r = new(5, AclAction.Permit, [], [], [], [], []);
        Assert.Throws<ArgumentException>(() => new AclGroup<uint>("g", [r, r with { Action = AclAction.Deny }]));
    }
}
