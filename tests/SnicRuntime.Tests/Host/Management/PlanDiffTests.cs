using System.Text.Json.Nodes;
using SnicRuntime.Management;
using SnicRuntime.Tests.Firmware.Pipeline;
using Xunit;

namespace SnicRuntime.Tests.Host.Management;

public sealed class PlanDiffTests
{
    [Fact]
    public void Objects_are_matched_by_identity_so_changes_name_their_object_and_order_does_not_matter()
    {
        string before = PipelineHarness.PlanText("full.json");
        string after = PlanEdit.Edit("full.json", p =>
        {
            p["generation"] = 9;                                   // not a change of content
            p["mappings"]![0]!["underlay_ip"] = "172.16.1.30";      // changed mapping
            p["enis"]!.AsArray().RemoveAt(1);                      // removed ENI
            p["vnets"]!.AsArray().Add(new JsonObject { ["name"] = "vnet2", ["vni"] = 300 }); // added VNET
            JsonArray groups = p["acl_groups"]!.AsArray();          // reordered: no change
            JsonNode first = groups[0]!;
            groups.RemoveAt(0);
            groups.Add(first);
            p["appliance"]!["uplink_port"] = 1;                    // section-level change
        });

        Assert.Equal(
            ["~ appliance ", "- enis eni2", "~ mappings vnet1/10.1.2.50", "+ vnets vnet2"],
            PlanDiff.Compare(before, after).Select(c => c.ToString()));
        Assert.Empty(PlanDiff.Compare(before, before));
    }
}
