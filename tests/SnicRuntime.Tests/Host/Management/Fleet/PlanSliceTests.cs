using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management.Fleet;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Host.Management.Fleet;

/// <summary>A card's share of a plan: only its ENIs and what they reference, and always a valid plan on its own.</summary>
public sealed class PlanSliceTests
{
    [Theory]
    [InlineData("demo.json")]
    [InlineData("full.json")]
    [InlineData("vnet-to-vnet.json")]
    public void Every_subset_of_ENIs_slices_into_a_valid_plan_with_exactly_those_ENIs(string file)
    {
        ChangePlan plan = PlanJson.Parse(File.ReadAllText(TestPaths.Plan(file)), out PlanError? error)!;
        Assert.Null(error);
        string[] names = [.. plan.Enis!.Select(e => e.Name!)];
        for (int mask = 0; mask < 1 << names.Length; mask++)
        {
            var subset = names.Where((_, i) => (mask & (1 << i)) != 0).ToHashSet();
            ChangePlan share = PlanSlice.For(plan, subset);
            var errors = new List<PlanError>();
            Assert.True(PlanValidator.Validate(share, errors) is not null, $"{file} sliced to [{string.Join(",", subset)}]: {string.Join("; ", errors.Select(e => e.Path + ": " + e.Reason))}");
            Assert.Equal(subset.Order(), share.Enis!.Select(e => e.Name!).Order());
            // Nothing the kept ENIs do not reach: every kept VNET is one an ENI or a kept route names.
            var reached = share.Enis!.Select(e => e.Vnet).Concat(share.RouteTables!.SelectMany(t => t.Routes ?? []).Select(r => r.Vnet)).ToHashSet();
            Assert.All(share.Vnets ?? [], v => Assert.Contains(v.Name, reached));
            Assert.All(share.Mappings ?? [], m => Assert.Contains(m.Vnet, reached));
        }
    }

    [Fact]
    public void A_share_without_ENIs_keeps_only_what_the_card_itself_needs()
    {
        ChangePlan plan = PlanJson.Parse(File.ReadAllText(TestPaths.Plan("full.json")), out _)!;
        ChangePlan share = PlanSlice.For(plan, new HashSet<string>());
        Assert.Empty(share.Enis!);
        Assert.Empty(share.Mappings ?? []);
        Assert.Empty(share.RouteTables ?? []);
        Assert.NotNull(share.Appliance);
    }
}
