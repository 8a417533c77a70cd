using SnicRuntime.Contracts.Fabric;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management.Fabric;
using Xunit;

namespace SnicRuntime.Tests.Host.Fabric;

/// <summary>How the fabric picks the card for each ENI from the cards' announcements, and its readiness barrier.</summary>
public sealed class FabricSteeringTests
{
    private static readonly FabricVm s_vm = new(1, 1, 1);
    private static readonly FabricEni[] s_enis = [new("eni1", s_vm, [s_vm], 100, 200, 1), new("eni2", s_vm, [s_vm], 100, 200, 1)];

    private static CardStatus Card(long generation, params (string Scope, string State, long Term, bool Forwarding, bool Ready)[] scopes) => new()
    {
        Generation = generation,
        Scopes = [.. scopes.Select(s => new ScopeStatus { Name = s.Scope, Enis = s.Scope == "s1" ? ["eni1"] : ["eni2"], State = s.State, Term = s.Term, Forwarding = s.Forwarding, Ready = s.Ready })],
    };

    [Fact]
    public void Each_eni_goes_to_the_card_deciding_its_scope_and_moves_only_to_a_ready_card_with_a_newer_term()
    {
        var steering = new FabricSteering(s_enis, 2);
        Assert.Equal(-1, steering.CardOf(0));
        steering.Update(0, Card(1, ("s1", "InitializingToActive", 1, true, false), ("s2", "Standby", 1, false, false)), 10);
        steering.Update(1, Card(1, ("s1", "Standby", 1, false, false), ("s2", "Active", 1, true, true)), 11);
        Assert.Equal(0, steering.CardOf(0)); // the first card to decide a scope gets it without the barrier
        Assert.Equal(1, steering.CardOf(1));

        // Card 1 says it decides s1 under term 2 but is not complete yet: traffic stays on card 0.
        steering.Update(1, Card(1, ("s1", "InitializingToActive", 2, true, false), ("s2", "Active", 1, true, true)), 12);
        Assert.Equal(0, steering.CardOf(0));
        // Complete, but on an older plan generation than card 0 runs: still not.
        steering.Update(0, Card(2, ("s1", "Active", 1, true, true), ("s2", "Standby", 1, false, false)), 13);
        steering.Update(1, Card(1, ("s1", "Standalone", 2, true, true), ("s2", "Active", 1, true, true)), 14);
        Assert.Equal(0, steering.CardOf(0));
        steering.Update(1, Card(2, ("s1", "Standalone", 2, true, true), ("s2", "Active", 1, true, true)), 15);
        Assert.Equal(1, steering.CardOf(0));
        Assert.Equal(("eni1", 0, 1, 2L), steering.Moves.Select(m => (m.Eni, m.From, m.To, m.Term)).Last());

        // The old card's stale announcement (it died saying Active under term 1) never takes it back.
        steering.Update(0, Card(2, ("s1", "Active", 1, true, true), ("s2", "Standby", 1, false, false)), 16);
        Assert.Equal(1, steering.CardOf(0));
    }

    [Fact]
    public void A_card_that_announces_nothing_keeps_its_enis_until_another_card_decides_them()
    {
        var steering = new FabricSteering(s_enis, 2);
        steering.Update(0, Card(1, ("s1", "Active", 1, true, true)), 1);
        steering.Update(0, new CardStatus(), 2); // restarted: announces nothing yet
        Assert.Equal(0, steering.CardOf(0));
        steering.Update(1, Card(1, ("s1", "Standalone", 2, true, true)), 3);
        Assert.Equal(1, steering.CardOf(0));
    }

    [Fact]
    public void The_endpoints_of_the_demo_plan_are_its_four_enis_each_with_its_own_vm_and_the_remote_vms()
    {
        ChangePlan plan = PlanJson.Parse(File.ReadAllText(SnicRuntime.TestKit.TestPaths.Plan("demo.json")), out PlanError? error)!;
        Assert.Null(error);
        IReadOnlyList<FabricEni> enis = FabricEndpoints.From(plan, out string why);
        Assert.Equal("", why);
        Assert.Equal(["eni1", "eni2", "eni3", "eni4"], enis.Select(e => e.Name));
        Assert.All(enis, e => Assert.Equal(16, e.Remotes.Count));
        Assert.Equal(0x0A010001u, enis[0].Vm.Ca);
        Assert.Equal((100u, 200u), (enis[0].OutboundVni, enis[0].InboundVni));
        Assert.Empty(FabricEndpoints.From(new ChangePlan(), out why));
        Assert.Equal("the plan has no IPv4 appliance VIP", why);
    }
}
