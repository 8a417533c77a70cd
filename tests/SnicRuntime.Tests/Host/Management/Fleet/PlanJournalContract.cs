using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;
using SnicRuntime.Tests.Host.Management.Store;
using Xunit;

namespace SnicRuntime.Tests.Host.Management.Fleet;

/// <summary>
/// The plan journal in the store: generation numbers come from the store whoever publishes, every
/// kept generation is rebuilt exactly (through single-transaction and batched publishes, by two
/// publishers), an interrupted publish is undone by the journal, and trimming names what it took.
/// Run on every store backend.
/// </summary>
public abstract class PlanJournalContract : FleetStoreContract
{
    [SkippableFact]
    public async Task Generation_numbers_come_from_theStore_whoever_publishes()
    {
        Skip.If(Unavailable is not null, Unavailable);
        await using IStateStore otherHost = Client();
        var mine = new DesiredPlan(Store) { By = "host-a" };
        var theirs = new DesiredPlan(otherHost) { By = "host-b" };
        ChangePlan plan = Example("full.json");
        plan.Generation = 1;
        Assert.Equal(1, (await mine.Publish(plan)).Generation);
        plan.Generation = 1; // asks for a number already taken: gets the next
        Assert.Equal(2, (await theirs.Publish(plan)).Generation);
        Assert.Equal(3, (await mine.Publish(plan)).Generation); // its memory of generation 1 is stale; the store says 2
        plan.Generation = 10; // a higher number asked for is given
        Assert.Equal(10, (await theirs.Publish(plan)).Generation);
        IReadOnlyList<JournalRecord> journal = await new PlanJournal(Store).Generations();
        Assert.Equal([1L, 2, 3, 10], journal.Select(j => j.Generation));
        Assert.Equal(["host-a", "host-b", "host-a", "host-b"], journal.Select(j => j.By));
        Assert.Equal(10, await new PlanJournal(otherHost).Latest());
    }

    [SkippableFact]
    public async Task Every_generation_is_rebuilt_exactly_after_random_changes_by_two_publishers()
    {
        Skip.If(Unavailable is not null, Unavailable);
        await using IStateStore otherHost = Client();
        var random = new Random(21);
        DesiredPlan[] publishers = [new DesiredPlan(Store), new DesiredPlan(otherHost) { Batch = 3 }, new DesiredPlan(Store) { Batch = 4 }];
        ChangePlan plan = Example("full.json");
        var expected = new Dictionary<long, HashSet<string>>();
        for (int i = 0; i < 14; i++)
        {
            if (i > 0)
            {
                Change(plan, random);
            }

            Published p = await publishers[random.Next(publishers.Length)].Publish(plan);
            expected[p.Generation] = Objects(plan);
        }

        var journal = new PlanJournal(random.Next(2) == 0 ? Store : otherHost);
        Assert.Equal(expected.Keys.Order(), (await journal.Generations()).Select(g => g.Generation));
        foreach ((long generation, HashSet<string> objects) in expected)
        {
            ChangePlan rebuilt = await journal.Plan(generation);
            Assert.Equal(generation, rebuilt.Generation);
            Assert.True(objects.SetEquals(Objects(rebuilt)), $"generation {generation} rebuilt differs: " +
                string.Join(", ", objects.Except(Objects(rebuilt)).Concat(Objects(rebuilt).Except(objects)).Take(4)));
        }
    }

    // One random change: an ENI's state flipped, an ENI added or removed, a route or a mapping dropped.
    private static void Change(ChangePlan plan, Random random)
    {
        switch (random.Next(5))
        {
            case 0:
                EniSpec e = plan.Enis![random.Next(plan.Enis.Count)];
                e.AdminState = e.AdminState == "down" ? "up" : "down";
                break;
            case 1:
                EniSpec t = plan.Enis![0];
                int n = random.Next(1 << 16); // a name not used before (the random stream is fixed)
                plan.Enis.Add(new EniSpec { Name = $"added{n}-{plan.Enis.Count}", Mac = $"00:ee:00:00:{n >> 8:x2}:{n & 255:x2}", Vnet = t.Vnet, VmVni = t.VmVni, VmUnderlayIp = t.VmUnderlayIp, RouteTable = t.RouteTable, Acl = t.Acl });
                break;
            case 2 when plan.Enis!.Count > 1:
                plan.Enis.RemoveAt(random.Next(plan.Enis.Count));
                break;
            case 3 when plan.RouteTables![0].Routes!.Count > 1:
                plan.RouteTables[0].Routes!.RemoveAt(random.Next(plan.RouteTables[0].Routes!.Count));
                break;
            case 4 when plan.Mappings is { Count: > 1 }:
                plan.Mappings.RemoveAt(random.Next(plan.Mappings.Count));
                break;
            default:
                plan.Enis![0].AdminState = plan.Enis[0].AdminState == "down" ? "up" : "down";
                break;
        }
    }

    [SkippableFact]
    public async Task A_publish_killed_mid_way_is_undone_by_the_journal_and_the_next_takes_a_new_generation()
    {
        Skip.If(Unavailable is not null, Unavailable);
        ChangePlan a = Example("full.json"), b = Example("vnet-to-vnet.json"), c = Example("demo.json");
        Assert.Equal(1, (await new DesiredPlan(Store).Publish(a)).Generation);

        // Killed after the "writing" marker and three batches of b.
        await using var dying = new PartitionedStore(Client()) { TxnsLeft = 4 };
        await Assert.ThrowsAsync<StoreException>(() => new DesiredPlan(dying) { Batch = 3 }.Publish(b));
        Assert.Null((await new DesiredPlan(Store).Read())!.Plan); // still "writing": no reader takes half of b
        Assert.Equal(1, await new PlanJournal(Store).Latest());

        Published next = await new DesiredPlan(Store).Publish(c);
        Assert.Equal(3, next.Generation); // 2 was the killed publish's
        var journal = new PlanJournal(Store);
        Assert.Equal([1L, 3], (await journal.Generations()).Select(g => g.Generation));
        Assert.True(Objects(a).SetEquals(Objects(await journal.Plan(1))), "generation 1 is not rebuilt across the killed publish's writes");
        Assert.True(Objects(c).SetEquals(Objects(await journal.Plan(3))));
        var missing = await Assert.ThrowsAsync<JournalMissException>(() => journal.Plan(2));
        Assert.Equal("no generation 2 in the journal (it holds 1..3)", missing.Message);
    }

    [SkippableFact]
    public async Task Trimming_keeps_the_newest_generations_whole_and_names_what_it_took()
    {
        Skip.If(Unavailable is not null, Unavailable);
        var random = new Random(5);
        var desired = new DesiredPlan(Store) { Batch = 5 };
        ChangePlan plan = Example("full.json");
        var expected = new Dictionary<long, HashSet<string>>();
        for (int i = 0; i < 6; i++)
        {
            Change(plan, random);
            expected[(await desired.Publish(plan)).Generation] = Objects(plan);
        }

        var journal = new PlanJournal(Store);
        Assert.Equal(3, await journal.Trim(3));
        Assert.Equal(0, await journal.Trim(3));
        Assert.Equal([4L, 5, 6], (await journal.Generations()).Select(g => g.Generation));
        Assert.DoesNotContain((await Store.Range(FleetKeys.JournalChanges)).Entries, e => string.CompareOrdinal(e.Key, FleetKeys.JournalChunk(4, 0)) < 0);
        for (long g = 4; g <= 6; g++)
        {
            Assert.True(expected[g].SetEquals(Objects(await journal.Plan(g))), $"generation {g} after trimming");
        }

        var trimmed = await Assert.ThrowsAsync<JournalMissException>(() => journal.Plan(2));
        Assert.Equal("generation 2 was trimmed from the journal (it keeps 4..6)", trimmed.Message);
    }
}

public sealed class SqlitePlanJournalTests : PlanJournalContract, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-journal-").FullName;

    protected override IStateStore Client() => new SqliteStateStore(Path.Combine(_dir, "fleet.db"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

public sealed class EtcdPlanJournalTests(EtcdClusterFixture etcd) : PlanJournalContract, IClassFixture<EtcdClusterFixture>
{
    private readonly string _namespace = "journal-" + Guid.NewGuid().ToString("N");

    protected override string? Unavailable => etcd.Unavailable;

    protected override IStateStore Client() => etcd.Client(_namespace);
}
