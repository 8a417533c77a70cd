using SnicRuntime.Contracts.Plans;
using SnicRuntime.Tests.Firmware.Pipeline;
using System.Text.Json.Nodes;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Plans;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Plans;

public sealed class PlanValidationTests
{
    [Theory]
    [InlineData("vnet-to-vnet.json")]
    [InlineData("full.json")]
    public void Shipped_examples_are_valid(string name)
    {
        var errors = new List<PlanError>();
        PolicyTables? t = PlanCompiler.Compile(PipelineHarness.PlanText(name), null, errors);
        Assert.True(t is not null, string.Join('\n', errors));
    }

    // Each case edits full.json into one mistake: (what, edit, expected path, words in the reason).
    public static TheoryData<string, Action<JsonNode>, string, string> InvalidPlans() => new()
    {
        { "unknown VNET", p => p["enis"]![0]!["vnet"] = "nope", "$.enis[0].vnet", "unknown VNET 'nope'" },
        { "duplicate priority", p => p["acl_groups"]![0]!["rules"]![1]!["priority"] = 10, "$.acl_groups[0].rules[1].priority", "duplicate priority 10" },
        { "overlapping ports", p => p["acl_groups"]![1]!["rules"]![0]!["dst_ports"] = new JsonArray("23", "20-30"), "$.acl_groups[1].rules[0].dst_ports[1]", "overlaps" },
        { "prefix too long", p => p["route_tables"]![0]!["routes"]![0]!["prefix"] = "10.1.0.0/33", "$.route_tables[0].routes[0].prefix", "exceeds 32" },
        { "host bits", p => p["route_tables"]![0]!["routes"]![0]!["prefix"] = "10.1.0.1/16", "$.route_tables[0].routes[0].prefix", "bits set after /16" },
        { "short IPv4", p => p["appliance"]!["vip"] = "172.16.1", "$.appliance.vip", "is not an IP address" },
        { "VNI range", p => p["vnets"]![0]!["vni"] = 1 << 24, "$.vnets[0].vni", "out of range" },
        { "bad MAC", p => p["enis"]![0]!["mac"] = "00:cc:cc", "$.enis[0].mac", "not a MAC" },
        { "MAC reused", p => p["enis"]![1]!["mac"] = "00:cc:cc:cc:cc:cc", "$.enis[1].mac", "already belongs to $.enis[0]" },
        { "unknown ACL group", p => p["enis"]![0]!["acl"]!["outbound_v4"]![1] = "nope", "$.enis[0].acl.outbound_v4[1]", "unknown ACL group" },
        { "ACL family", p => p["enis"]![0]!["acl"]!["outbound_v6"] = new JsonArray("out-stage1"), "$.enis[0].acl.outbound_v6[0]", "is IPv4" },
        { "four stages", p => p["enis"]![0]!["acl"]!["outbound_v4"]!.AsArray().Add("out-stage1"), "$.enis[0].acl.outbound_v4", "at most 3" },
        { "unknown route table", p => p["enis"]![0]!["route_table"] = "nope", "$.enis[0].route_table", "unknown route table" },
        { "unknown ECMP group", p => p["route_tables"]![0]!["routes"]![2]!["ecmp_group"] = "nope", "$.route_tables[0].routes[2].ecmp_group", "unknown ECMP group" },
        { "unknown meter class", p => p["route_tables"]![0]!["routes"]![0]!["meter_class"] = 9, "$.route_tables[0].routes[0].meter_class", "unknown meter class 9" },
        { "duplicate route", p => p["route_tables"]![0]!["routes"]![1]!["prefix"] = "10.1.0.0/16", "$.route_tables[0].routes[1].prefix", "routed twice" },
        { "duplicate mapping", p => p["mappings"]![1]!["ip"] = "10.1.2.50", "$.mappings[1].ip", "mapped twice" },
        { "bad encap", p => p["mappings"]![1]!["encap"] = "geneve", "$.mappings[1].encap", "vxlan" },
        { "older generation", p => p["generation"] = 0, "$.generation", "generation 0 is not newer" },
        { "unknown field", p => p["enis"]![0]!["vnet_name"] = "vnet1", "$.enis[0].vnet_name", "unknown field" },
        { "wrong type", p => p["vnets"]![0]!["vni"] = "200", "$.vnets[0].vni", "wrong type" },
        { "bad ACL action", p => p["acl_groups"]![0]!["rules"]![0]!["action"] = "allow", "$.acl_groups[0].rules[0].action", "permit, deny" },
        { "protocol range", p => p["acl_groups"]![0]!["rules"]![2]!["protocols"] = new JsonArray(256), "$.acl_groups[0].rules[2].protocols[0]", "out of range" },
        { "port range reversed", p => p["acl_groups"]![0]!["rules"]![2]!["dst_ports"] = new JsonArray("60-50"), "$.acl_groups[0].rules[2].dst_ports[0]", "starts after it ends" },
        { "uplink port", p => p["appliance"]!["uplink_port"] = 7, "$.appliance.uplink_port", "does not exist" },
        { "inbound action", p => p["enis"]![0]!["inbound_routes"]![0]!["action"] = "forward", "$.enis[0].inbound_routes[0].action", "decap" },
        { "NAT not 1:1", p => p["enis"]![1]!["static_nat"]!.AsArray().Add(new JsonObject { ["internal"] = "10.1.1.21", ["external"] = "10.1.100.20" }), "$.enis[1].static_nat[1]", "1:1" },
        { "service tunnel missing", p => p["route_tables"]![0]!["routes"]![0]!["action"] = "service-tunnel", "$.route_tables[0].routes[0].service_tunnel", "needs service_tunnel" },
        { "service tunnel not /96", p => p["service_tunnels"]![0]!["overlay_src_prefix"] = "fd00:5::/64", "$.service_tunnels[0].overlay_src_prefix", "IPv6 /96" },
        { "service tunnel IPv6 route", p => p["route_tables"]![0]!["routes"]![4]!["prefix"] = "fd09::/32", "$.route_tables[0].routes[4].prefix", "must be IPv4" },
        { "vnet-direct without overlay", p => p["route_tables"]![0]!["routes"]![3]!.AsObject().Remove("overlay_ip"), "$.route_tables[0].routes[3].overlay_ip", "missing IP address" },
        { "no appliance", p => p.AsObject().Remove("appliance"), "$.appliance", "missing appliance" },
        { "too many service tunnels", p => p["service_tunnels"] = new JsonArray(Enumerable.Range(0, PlanLimits.MaxServiceTunnels + 1)
            .Select(_ => (JsonNode?)p["service_tunnels"]![0]!.DeepClone()).ToArray()), "$.service_tunnels", "at most 65534" },
    };

    [Theory]
    [MemberData(nameof(InvalidPlans))]
    public void Invalid_plan_is_refused_with_its_path_and_the_old_generation_keeps_forwarding(string what, Action<JsonNode> edit, string path, string reason)
    {
        using var h = new PipelineHarness(PipelineHarness.PlanText("full.json"));
        byte[] probe = Overlay.FromVm("10.1.2.50");
        h.Forwarded(probe);

        string bad = PlanEdit.Edit("full.json", p =>
        {
            p["generation"] = 2;
            edit(p);
        });
        ApplyResult result = h.Store.Apply(bad);

        Assert.False(result.Accepted, what);
        Assert.Contains(result.Errors, e => e.Path == path && e.Reason.Contains(reason, StringComparison.Ordinal));
        Assert.Equal(1, h.Store.Current!.Generation);
        h.Forwarded(probe); // still forwards with generation 1
        Assert.Equal(2, h.Counters.FlowHits + h.Counters.FlowsCreated);
    }

    [Fact]
    public void Every_error_is_reported_not_just_the_first()
    {
        string bad = PlanEdit.Edit("full.json", p =>
        {
            p["vnets"]![0]!["vni"] = -1;
            p["enis"]![0]!["mac"] = "zz";
            p["mappings"]![0]!["underlay_ip"] = "fd00::1";
            p["acl_groups"]![0]!["rules"]![0]!["dst"] = new JsonArray("fd00::/8");
            p["generation"] = 0;
        });
        var errors = new List<PlanError>();
        Assert.Null(PlanCompiler.Compile(bad, null, errors));
        Assert.Contains(errors, e => e.Path == "$.vnets[0].vni");
        Assert.Contains(errors, e => e.Path == "$.enis[0].mac");
        Assert.Contains(errors, e => e.Path == "$.mappings[0].underlay_ip" && e.Reason.Contains("IPv6", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Path == "$.acl_groups[0].rules[0].dst[0]");
        Assert.Contains(errors, e => e.Path == "$.generation" && e.Reason.Contains("1 or more", StringComparison.Ordinal));
    }

    [Fact]
    public void Older_generation_is_refused_and_the_same_plan_again_is_a_no_op()
    {
        var store = new PolicyStore();
        string plan = PipelineHarness.PlanText("full.json");
        Assert.True(store.Apply(plan).Accepted);
        PolicyTables first = store.Current!;

        ApplyResult again = store.Apply(plan);
        Assert.True(again.Accepted && again.Unchanged);
        Assert.Same(first, store.Current);

        ApplyResult different = store.Apply(PlanEdit.Edit("full.json", p => p["vnets"]![0]!["vni"] = 201));
        Assert.False(different.Accepted);
        Assert.Contains("not newer", different.Errors[0].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Enis_keep_their_index_across_generations()
    {
        var store = new PolicyStore();
        Assert.True(store.Apply(PipelineHarness.PlanText("full.json")).Accepted);
        int eni2 = store.Current!.FindEni("eni2")!.Index;
        // Generation 2 drops eni1 and adds eni3: eni2 keeps its slot (its flows and counters are keyed by it).
        string next = PlanEdit.Edit("full.json", p =>
        {
            p["generation"] = 2;
            JsonNode eni3 = p["enis"]![0]!.DeepClone();
            eni3["name"] = "eni3";
            eni3["mac"] = "00:cc:cc:cc:cc:03";
            p["enis"]!.AsArray().RemoveAt(0);
            p["enis"]!.AsArray().Add(eni3);
        });
        Assert.True(store.Apply(next).Accepted);
        Assert.Equal(eni2, store.Current!.FindEni("eni2")!.Index);
        Assert.NotEqual(eni2, store.Current!.FindEni("eni3")!.Index);
    }

    [Fact]
    public void Random_garbage_and_truncations_never_throw()
    {
        string plan = PipelineHarness.PlanText("full.json");
        TestSeeds.Run(7, rng =>
        {
            for (int i = 0; i < 2000; i++)
            {
                string text = i % 2 == 0
                    ? plan[..rng.Next(plan.Length)]
                    : Mutate(plan, rng);
                var store = new PolicyStore();
                ApplyResult r = store.Apply(text);
                Assert.True(r.Accepted || r.Errors.Count > 0);
                Assert.True(r.Accepted == (store.Current is not null));
            }
        });
    }

    private static string Mutate(string text, Random rng)
    {
        char[] chars = text.ToCharArray();
        for (int k = 0; k < 4; k++)
        {
            chars[rng.Next(chars.Length)] = "{}[]\",:0123456789abc./- "[rng.Next(24)];
        }

        return new string(chars);
    }
}
