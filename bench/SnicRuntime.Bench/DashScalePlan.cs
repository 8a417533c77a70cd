using SnicRuntime.Contracts.Plans;
using System.Net;
using SnicRuntime.Firmware.Plans;

namespace SnicRuntime.Bench;

/// <summary>
/// A DASH-scale configuration for the pipeline benchmarks (SPEC §5 "connection setup"): one ENI
/// with 3 outbound ACL stages of <c>rules</c> rules × <c>prefixes</c> prefixes, <c>routes</c>
/// routes and <c>mappings</c> CA→PA mappings, all in 10.0.0.0/8.
/// </summary>
/// <remarks>
/// ACL prefixes are drawn from the same /8 as the traffic (lengths /16-/28), so every lookup
/// meets dozens of covering prefixes per field and the classifier does real work; the rules are
/// restricted to TCP ports 1-1023, which the generated traffic (UDP, ports ≥ 5000) never uses, and
/// each group ends with a lowest-priority permit-and-continue, so flows are created.
/// </remarks>
internal static class DashScalePlan
{
    public const string EniMac = "00:cc:cc:cc:cc:cc";

    public static ChangePlan Build(int rules, int prefixes, int routes, int mappings, out uint[] mappedCas, int seed = 1)
    {
        var rng = new Random(seed);
        string Ip(uint a) => new IPAddress(new[] { (byte)(a >> 24), (byte)(a >> 16), (byte)(a >> 8), (byte)a }).ToString();
        uint InSlash8() => 0x0A00_0000u | (uint)rng.Next(1 << 24);
        string PrefixText(int lo, int hi)
        {
            int len = rng.Next(lo, hi + 1);
            return $"{Ip(InSlash8() & (uint.MaxValue << (32 - len)))}/{len}";
        }

        var groups = new List<AclGroupSpec>();
        for (int g = 0; g < 3; g++)
        {
            var list = new List<AclRuleSpec>();
            for (int r = 0; r < rules - 1; r++)
            {
                list.Add(new AclRuleSpec
                {
                    Priority = r + 1,
                    Action = (r % 4) switch { 0 => "deny", 1 => "permit", 2 => "deny-and-continue", _ => "permit-and-continue" },
                    Src = Enumerable.Range(0, prefixes / 2).Select(_ => PrefixText(16, 28)).ToList(),
                    Dst = Enumerable.Range(0, prefixes - prefixes / 2).Select(_ => PrefixText(16, 28)).ToList(),
                    Protocols = [6],
                    DstPorts = ["1-1023"],
                });
            }

            list.Add(new AclRuleSpec { Priority = 1_000_000, Action = "permit-and-continue" });
            groups.Add(new AclGroupSpec { Name = $"stage{g + 1}", Family = "ipv4", Rules = list });
        }

        var routeList = new List<RouteSpec> { new() { Prefix = "10.0.0.0/8", Action = "vnet", Vnet = "vnet1" } };
        var seen = new HashSet<string>(StringComparer.Ordinal) { "10.0.0.0/8" };
        while (routeList.Count < routes)
        {
            string p = PrefixText(12, 28);
            if (seen.Add(p))
            {
                routeList.Add(new RouteSpec { Prefix = p, Action = "vnet", Vnet = "vnet1", MeterClass = 1 });
            }
        }

        var cas = new HashSet<uint>();
        while (cas.Count < mappings)
        {
            cas.Add(InSlash8());
        }

        mappedCas = [.. cas];
        return new ChangePlan
        {
            Generation = 1,
            Appliance = new ApplianceSpec { Vip = "172.16.1.100", Mac = "02:00:00:00:01:00", NeighborMac = "02:00:00:00:02:00" },
            DirectionLookup = [new DirectionSpec { Vni = 100, Direction = "outbound" }],
            MeterClasses = [new MeterClassSpec { Id = 1, Name = "vnet" }],
            Vnets = [new VnetSpec { Name = "vnet1", Vni = 200 }],
            Enis =
            [
                new EniSpec
                {
                    Name = "eni1", Mac = EniMac, Vnet = "vnet1", VmVni = 100, VmUnderlayIp = "172.16.1.1", RouteTable = "rt1",
                    Acl = new EniAclSpec { OutboundV4 = ["stage1", "stage2", "stage3"] },
                },
            ],
            AclGroups = groups,
            RouteTables = [new RouteTableSpec { Name = "rt1", Routes = routeList }],
            Mappings = mappedCas.Select((ca, i) => new MappingSpec
            {
                Vnet = "vnet1", Ip = Ip(ca), UnderlayIp = Ip(0xAC10_0000u | (uint)(i & 0xFFFF)), Mac = "00:dd:dd:dd:dd:dd",
            }).ToList(),
        };
    }
}
