using SnicRuntime.Contracts.Plans;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Contracts.Plans;

/// <summary>A plan delta turns the plan it was cut from into the plan it was cut for, whatever changed; anything else is refused by name.</summary>
public sealed class PlanDeltaTests
{
    /// <summary>A plan in key order, as the fleet's shares are (the order a delta's result has).</summary>
    internal static ChangePlan Ordered(ChangePlan plan) =>
        PlanObjects.Merge(PlanObjects.Split(plan).Select(o => KeyValuePair.Create(o.Key, PlanObjects.Parse(o.Key, o.Value))), plan.Generation);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Applying_the_delta_between_two_plans_to_the_first_makes_the_second(int seed)
    {
        var random = new Random(seed);
        ChangePlan plan = Ordered(PlanJson.Parse(File.ReadAllText(TestPaths.Plan("full.json")), out _)!);
        for (int step = 0; step < 40; step++)
        {
            ChangePlan next = Ordered(PlanJson.Parse(PlanJson.Write(plan), out _)!);
            switch (random.Next(5))
            {
                case 0:
                    EniSpec eni = next.Enis![random.Next(next.Enis.Count)];
                    eni.AdminState = eni.AdminState == "down" ? "up" : "down";
                    break;
                case 1:
                    next.Mappings!.Add(new MappingSpec { Vnet = next.Vnets![random.Next(next.Vnets.Count)].Name, Ip = $"10.77.{step}.1", UnderlayIp = "172.31.0.1" });
                    break;
                case 2 when next.Mappings!.Count > 1:
                    next.Mappings.RemoveAt(random.Next(next.Mappings.Count));
                    break;
                case 3:
                    next.RouteTables![random.Next(next.RouteTables.Count)].Routes!.Add(new RouteSpec { Prefix = $"10.{200 + step}.0.0/16", Action = "drop" });
                    break;
                default:
                    next.Appliance!.Vip = $"172.16.{step}.100";
                    break;
            }

            next = Ordered(next);
            PlanDelta delta = PlanDelta.Between(plan, next, step + 2);
            PlanDelta sent = PlanJson.ParseDelta(System.Text.Encoding.UTF8.GetBytes(PlanJson.Write(delta)), out PlanError? error)!;
            Assert.Null(error);
            ChangePlan? made = sent.ApplyTo(plan, out error);
            Assert.True(made is not null, $"step {step}: {error}");
            Assert.Equal(PlanDigest.Of(next), PlanDigest.Of(made));
            Assert.Equal(step + 2, made.Generation);
            Assert.True(delta.Objects <= 4, $"step {step}: a one-object change became a delta of {delta.Objects} objects");
            plan = next;
        }
    }

    [Fact]
    public void A_delta_that_deletes_what_is_not_there_or_makes_another_plan_is_refused_by_name()
    {
        ChangePlan plan = Ordered(PlanJson.Parse(File.ReadAllText(TestPaths.Plan("full.json")), out _)!);
        var missing = new PlanDelta { Generation = 2, BaseDigest = PlanDigest.Of(plan), Delete = ["enis/no-such-eni"] };
        Assert.Null(missing.ApplyTo(plan, out PlanError? error));
        Assert.Equal("$.delete[0]", error!.Value.Path);
        Assert.Contains("no object 'enis/no-such-eni'", error.Value.Reason, StringComparison.Ordinal);

        var wrong = new PlanDelta { Generation = 2, BaseDigest = PlanDigest.Of(plan), Digest = new string('0', 64) };
        Assert.Null(wrong.ApplyTo(plan, out error));
        Assert.Equal("$.digest", error!.Value.Path);

        Assert.Null(PlanJson.ParseDelta("{\"puts\":{}}"u8, out error));
        Assert.Contains("puts", error!.Value.Reason + error.Value.Path, StringComparison.Ordinal);
    }
}
