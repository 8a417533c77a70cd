using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;
using SnicRuntime.Tests.Host.Management.Store;
using Xunit;

namespace SnicRuntime.Tests.Host.Management.Fleet;

/// <summary>
/// The desired plan as one key per object: what goes in comes out, one ENI's change writes one
/// key, a publish larger than a transaction is never seen half-written, and two publishers racing
/// leave one whole plan. Run on every store backend.
/// </summary>
public abstract class DesiredPlanContract : FleetStoreContract
{
    [SkippableTheory]
    [InlineData("demo.json")]
    [InlineData("full.json")]
    [InlineData("vnet-to-vnet.json")]
    public async Task What_is_published_reads_back_as_the_same_objects_and_a_valid_plan(string file)
    {
        Skip.If(Unavailable is not null, Unavailable);
        ChangePlan plan = Example(file);
        await new DesiredPlan(Store).Publish(PlanJson.Write(plan));
        PlanSnapshot read = (await new DesiredPlan(Store).Read())!;
        Assert.Equal(PlanMarker.Complete, read.Marker.State);
        Assert.Equal(plan.Generation, read.Plan!.Generation);
        Assert.Equal(Objects(plan), Objects(read.Plan));
        var errors = new List<PlanError>();
        Assert.True(PlanValidator.Validate(read.Plan, errors) is not null, string.Join("; ", errors.Select(e => e.Path + ": " + e.Reason)));
        Assert.Equal(plan.Enis!.Select(e => e.Name).Order(), read.Plan.Enis!.Select(e => e.Name).Order());
        Assert.Equal(plan.RouteTables!.Sum(t => t.Routes!.Count), read.Plan.RouteTables!.Sum(t => t.Routes!.Count));
    }

    [SkippableFact]
    public async Task One_ENI_changed_writes_that_ENI_s_key_and_the_marker_only()
    {
        Skip.If(Unavailable is not null, Unavailable);
        ChangePlan plan = Example("full.json");
        long first = (await new DesiredPlan(Store).Publish(PlanJson.Write(plan))).Revision;
        plan.Enis![0].AdminState = plan.Enis[0].AdminState == "down" ? "up" : "down";
        long second = (await new DesiredPlan(Store).Publish(PlanJson.Write(plan))).Revision;
        Assert.Equal(first + 1, second); // one transaction

        var written = new List<string>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (WatchEvent e in Store.Watch(FleetKeys.PlanPrefix, first + 1, stop.Token))
        {
            written.Add(e.Entry.Key);
            if (e.Entry.Key == FleetKeys.Plan)
            {
                break;
            }
        }

        Assert.Equal(new[] { FleetKeys.PlanObjects + "enis/" + plan.Enis[0].Name, FleetKeys.Plan }.Order(StringComparer.Ordinal), written.Order(StringComparer.Ordinal));
        // Publishing the same plan again changes no object.
        long third = (await new DesiredPlan(Store).Publish(PlanJson.Write(plan))).Revision;
        Assert.Equal(second, (await Store.Range(FleetKeys.PlanObjects)).Entries.Max(e => e.ModRevision));
        Assert.True(third > second);
    }

    [SkippableFact]
    public async Task A_publisher_that_remembers_its_last_plan_still_sees_another_publishers_plan()
    {
        Skip.If(Unavailable is not null, Unavailable);
        var mine = new DesiredPlan(Store);
        ChangePlan plan = Example("full.json");
        long first = (await mine.Publish(plan)).Revision;
        plan.Enis![0].AdminState = plan.Enis[0].AdminState == "down" ? "up" : "down";
        Assert.Equal(first + 1, (await mine.Publish(plan)).Revision); // diffed against what it remembers: one transaction

        // Someone else publishes a smaller plan; this publisher's memory is stale now, and its
        // next publish must diff against the store, not against what it remembers.
        await new DesiredPlan(Store).Publish(Example("demo.json"));
        plan.Enis[1].AdminState = plan.Enis[1].AdminState == "down" ? "up" : "down";
        await mine.Publish(plan);
        PlanSnapshot read = (await new DesiredPlan(Store).Read())!;
        Assert.Equal(Objects(plan), Objects(read.Plan!));
    }

    [SkippableFact]
    public async Task A_route_prefix_stays_one_key_segment()
    {
        Skip.If(Unavailable is not null, Unavailable);
        ChangePlan plan = Example("full.json");
        RouteTableSpec table = plan.RouteTables![0];
        await new DesiredPlan(Store).Publish(PlanJson.Write(plan));
        string key = $"{FleetKeys.PlanObjects}route_tables/{table.Name}/routes/{Uri.EscapeDataString(table.Routes![0].Prefix!)}";
        Assert.DoesNotContain('/', key[(key.LastIndexOf("/routes/", StringComparison.Ordinal) + 8)..]);
        Assert.NotNull(await Store.Get(key));
    }

    [SkippableFact]
    public async Task A_reader_never_sees_a_plan_published_in_batches_half_written()
    {
        Skip.If(Unavailable is not null, Unavailable);
        ChangePlan a = Example("full.json"), b = Example("demo.json");
        HashSet<string> objectsA = Objects(a), objectsB = Objects(b);
        var small = new DesiredPlan(Store) { Batch = 3 };
        await small.Publish(PlanJson.Write(a));
        using var done = new CancellationTokenSource();
        int halves = 0, whole = 0, writing = 0;
        var reading = new TaskCompletionSource();
        await using IStateStore readerClient = Client(); // another process's view
        Task reader = Task.Run(async () =>
        {
            do
            {
                PlanSnapshot s = (await new DesiredPlan(readerClient).Read())!;
                reading.TrySetResult();
                if (s.Plan is null)
                {
                    writing++;
                    continue;
                }

                HashSet<string> seen = Objects(s.Plan);
                if (seen.SetEquals(objectsA) || seen.SetEquals(objectsB))
                {
                    whole++;
                }
                else
                {
                    halves++;
                }
            }
            while (!done.IsCancellationRequested);
        });
        await reading.Task;
        for (int i = 0; i < 4; i++)
        {
            await small.Publish(PlanJson.Write(i % 2 == 0 ? b : a));
        }

        await done.CancelAsync();
        await reader;
        Assert.Equal(0, halves);
        Assert.True(whole > 0, "the reader read no plan at all");
        Assert.True(Objects((await small.Read())!.Plan!).SetEquals(objectsA));
    }

    [SkippableFact]
    public async Task Two_publishers_racing_leave_one_whole_plan()
    {
        Skip.If(Unavailable is not null, Unavailable);
        ChangePlan a = Example("full.json"), b = Example("vnet-to-vnet.json");
        await using IStateStore other = Client();
        var results = await Task.WhenAll(Try(new DesiredPlan(Store) { Batch = 3 }, a), Try(new DesiredPlan(other) { Batch = 3 }, b));
        Assert.Contains(results, r => r is null); // at least one finished
        // The loser is told, by name of what happened: the other started meanwhile, or kept changing the plan.
        Assert.All(results.OfType<StoreException>(), e => Assert.Matches("another publish|kept changing", e.Message));
        PlanSnapshot end = (await new DesiredPlan(Store).Read())!;
        Assert.NotNull(end.Plan);
        HashSet<string> seen = Objects(end.Plan);
        Assert.True(seen.SetEquals(Objects(a)) || seen.SetEquals(Objects(b)), "the store holds a mix of two plans");

        static async Task<Exception?> Try(DesiredPlan d, ChangePlan p)
        {
            try
            {
                await d.Publish(PlanJson.Write(p));
                return null;
            }
            catch (StoreException e)
            {
                return e;
            }
        }
    }

    [SkippableFact]
    public async Task An_object_someone_wrote_by_hand_is_named_when_read()
    {
        Skip.If(Unavailable is not null, Unavailable);
        await new DesiredPlan(Store).Publish(PlanJson.Write(Example("demo.json")));
        await Store.Put(FleetKeys.PlanObjects + "enis/broken", "{not json"u8.ToArray());
        var e = await Assert.ThrowsAsync<StoreException>(() => new DesiredPlan(Store).Read());
        Assert.Contains("plan object 'enis/broken' does not parse", e.Message, StringComparison.Ordinal);
    }
}

public sealed class SqliteDesiredPlanTests : DesiredPlanContract, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-desired-").FullName;

    protected override IStateStore Client() => new SqliteStateStore(Path.Combine(_dir, "fleet.db"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

public sealed class EtcdDesiredPlanTests(EtcdClusterFixture etcd) : DesiredPlanContract, IClassFixture<EtcdClusterFixture>
{
    private readonly string _namespace = "desired-" + Guid.NewGuid().ToString("N");

    protected override string? Unavailable => etcd.Unavailable;

    protected override IStateStore Client() => etcd.Client(_namespace);
}
