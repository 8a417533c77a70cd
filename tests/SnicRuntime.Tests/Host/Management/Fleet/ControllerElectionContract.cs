using System.Collections.Concurrent;
using System.Diagnostics;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;
using SnicRuntime.Tests.Host.Management.Store;
using Xunit;
using Xunit.Abstractions;

namespace SnicRuntime.Tests.Host.Management.Fleet;

/// <summary>
/// Controllers sharing one store: one leads, a stopped or cut-off leader is replaced, a deposed
/// leader stops acting before another starts and cannot write after, and terms granted by
/// compare-and-swap never go to two cards. Run on every store backend.
/// </summary>
public abstract class ControllerElectionContract(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly List<Controller> _started = [];

    /// <summary>A new client of one shared, empty store (call it once per controller, as each process has its own).</summary>
    protected abstract IStateStore Client();

    protected virtual string? Unavailable => null;

    private sealed class Controller
    {
        public required ControllerElection Election;
        public required CancellationTokenSource Stop;
        public required Task Running;
        public ConcurrentQueue<(DateTime At, string What)> Log = new();
        public DateTime? ElectedAt;
        public DateTime? LastActedAt;
    }

    private Controller Start(IStateStore store, string id, int leaseSeconds = 3)
    {
        var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        // 3 s leases: a loaded CI pass has stalled every process for over a second, and a lease that
        // lapses then is correct behaviour (no leader for a moment), not what these tests check.
        var election = new ControllerElection(store, id, TimeSpan.FromSeconds(leaseSeconds));
        Controller c = null!;
        c = new Controller
        {
            Election = election,
            Stop = stop,
            Running = Task.Run(() => election.Run(async token =>
            {
                c.ElectedAt ??= DateTime.UtcNow;
                // The leader's "work": act every 10 ms while it may, as delivery and the witness do.
                while (!token.IsCancellationRequested)
                {
                    if (election.IsLeader)
                    {
                        c.LastActedAt = DateTime.UtcNow;
                    }

                    await Task.Delay(10, CancellationToken.None);
                }
            }, m => { c.Log.Enqueue((DateTime.UtcNow, m)); Say($"{DateTime.UtcNow:HH:mm:ss.fff} {m}"); }, stop.Token)),
        };
        _started.Add(c);
        return c;
    }

    // A controller reports from its own timers; one that outlives its test (a failed assertion
    // skips the stops) must not write to an output that has closed: xunit throws there, on a
    // thread-pool thread, and that took the whole test host down in a CI pass.
    private void Say(string line)
    {
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // the test has ended; its controllers are being stopped by DisposeAsync
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (Controller c in _started)
        {
            await c.Stop.CancelAsync();
            await c.Running.ContinueWith(_ => { }, TaskScheduler.Default);
            c.Stop.Dispose();
        }
    }

    private static async Task Until(Func<bool> condition, TimeSpan wait, string what)
    {
        var timer = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(timer.Elapsed < wait, $"{what}: not within {wait.TotalSeconds} s");
            await Task.Delay(10);
        }
    }

    [SkippableFact]
    public async Task One_of_three_leads_and_a_stopped_leader_is_replaced_at_once()
    {
        Skip.If(Unavailable is not null, Unavailable);
        Controller[] cs = [Start(Client(), "c1"), Start(Client(), "c2"), Start(Client(), "c3")];
        await Until(() => cs.Count(c => c.Election.IsLeader) == 1, TimeSpan.FromSeconds(10), "one leader");
        for (int sample = 0; sample < 150; sample++)
        {
            Assert.True(cs.Count(c => c.Election.IsLeader) <= 1, "two controllers lead at once");
            await Task.Delay(10);
        }

        await Until(() => cs.Count(c => c.Election.IsLeader) == 1, TimeSpan.FromSeconds(10), "one leader");
        Controller first = cs.Single(c => c.Election.IsLeader);
        IStateStore reader = Client();
        Assert.Equal(first.Election.Id, (await ControllerElection.Leader(reader))!.Id);
        Assert.Equal(3, (await ControllerElection.Members(reader)).Count);

        var timer = Stopwatch.StartNew();
        await first.Stop.CancelAsync();
        await first.Running;
        await Until(() => cs.Count(c => c.Election.IsLeader) == 1, TimeSpan.FromSeconds(2), "a clean stop hands over at once");
        output.WriteLine($"handover after a clean stop: {timer.ElapsedMilliseconds} ms");
        Assert.NotEqual(first.Election.Id, (await ControllerElection.Leader(reader))!.Id);
        foreach (Controller c in cs)
        {
            await c.Stop.CancelAsync();
            await c.Running;
        }

        await reader.DisposeAsync();
    }

    [SkippableFact]
    public async Task A_cut_off_leader_stops_acting_before_another_leads_and_its_fenced_writes_fail()
    {
        Skip.If(Unavailable is not null, Unavailable);
        var cutOff = new PartitionedStore(Client());
        Controller a = Start(cutOff, "a");
        await Until(() => a.Election.IsLeader, TimeSpan.FromSeconds(10), "a leads");
        Controller b = Start(Client(), "b");
        await Task.Delay(500);
        Assert.False(b.Election.IsLeader);
        StoreCompare aFence = a.Election.FenceCompare;

        var timer = Stopwatch.StartNew();
        cutOff.Cut = true;
        // ElectedAt is set by b's work when it starts, a moment after IsLeader turns true (a race seen in CI).
        await Until(() => b.Election.IsLeader && b.ElectedAt is not null, TimeSpan.FromSeconds(10), "b takes over from a cut-off leader");
        // (On a loaded machine the deposed leader may not have acted at all before it was cut off.)
        output.WriteLine($"takeover after the leader was cut off: {timer.ElapsedMilliseconds} ms; a acted last " +
            (a.LastActedAt is DateTime last ? $"{(b.ElectedAt!.Value - last).TotalMilliseconds:0} ms before b was elected" : "never"));
        Assert.True(a.LastActedAt is null || a.LastActedAt < b.ElectedAt, "the deposed leader acted after the new one was elected");
        Assert.False(a.Election.IsLeader);

        // Healed, the old leader's fenced grant changes nothing: it is not the leader that fence names.
        cutOff.Cut = false;
        var terms = new TermGrants(cutOff);
        TermGrant created = await terms.Create("scope1", "card-a", b.Election.FenceCompare);
        Assert.True(created.Granted, created.Why);
        (TermRecord? seen, long revision) = await terms.Read("scope1");
        TermGrant stale = await terms.Grant(seen!, revision, "card-b", aFence);
        Assert.False(stale.Granted);
        Assert.Contains("no longer leads", stale.Why, StringComparison.Ordinal);
        Assert.Equal(1, (await terms.Read("scope1")).Record!.Term);
        await a.Stop.CancelAsync();
        await b.Stop.CancelAsync();
        await Task.WhenAll(a.Running, b.Running);
    }

    [SkippableFact]
    public async Task A_leader_whose_keep_alive_stalls_pauses_then_leads_again_with_the_same_fence()
    {
        Skip.If(Unavailable is not null, Unavailable);
        // 5 s leases: the leader pauses 4 s after its last keep-alive was sent, 1 s before the store
        // would let the lease lapse; the stall ends as soon as the pause is seen.
        var stalled = new PartitionedStore(Client());
        Controller a = Start(stalled, "a", leaseSeconds: 5);
        await Until(() => a.Election.IsLeader, TimeSpan.FromSeconds(10), "a leads");
        Controller b = Start(Client(), "b", leaseSeconds: 5);
        long fence = a.Election.Fence;

        stalled.Stalled = true; // its keep-alives go unanswered, as while etcd elects a leader
        await Until(() => !a.Election.IsLeader, TimeSpan.FromSeconds(10), "a pauses");
        DateTime paused = DateTime.UtcNow;
        stalled.Stalled = false;
        await Until(() => a.Election.IsLeader, TimeSpan.FromSeconds(10), "a leads again");
        Assert.Equal(fence, a.Election.Fence); // the same leadership: no new campaign
        Assert.Null(b.ElectedAt);
        Assert.Contains(a.Log, l => l.What.Contains("pauses", StringComparison.Ordinal));
        Assert.Contains(a.Log, l => l.What.Contains("leads again", StringComparison.Ordinal));
        Assert.DoesNotContain(a.Log, l => l.What.Contains("no longer leads", StringComparison.Ordinal));
        // While paused it did not act (its work was cancelled); it acts again after.
        await Until(() => a.LastActedAt > paused, TimeSpan.FromSeconds(5), "a acts again");
        await a.Stop.CancelAsync();
        await b.Stop.CancelAsync();
        await Task.WhenAll(a.Running, b.Running);
    }

    [SkippableFact]
    public async Task Two_controllers_racing_to_grant_a_term_never_both_win()
    {
        Skip.If(Unavailable is not null, Unavailable);
        await using IStateStore one = Client(), two = Client();
        var t1 = new TermGrants(one);
        var t2 = new TermGrants(two);
        Assert.True((await t1.Create("s", "card-a")).Granted);
        Assert.False((await t2.Create("s", "card-b")).Granted); // a scope is created once
        for (int round = 0; round < 20; round++)
        {
            (TermRecord? seen1, long rev1) = await t1.Read("s");
            (TermRecord? seen2, long rev2) = await t2.Read("s");
            Task<TermGrant> g1 = Task.Run(() => t1.Grant(seen1!, rev1, "card-a"));
            Task<TermGrant> g2 = Task.Run(() => t2.Grant(seen2!, rev2, "card-b"));
            TermGrant[] both = await Task.WhenAll(g1, g2);
            Assert.Equal(1, both.Count(g => g.Granted));
            TermRecord now = (await t1.Read("s")).Record!;
            Assert.Equal(seen1!.Term + 1, now.Term); // one term per round, held by the winner
            Assert.Equal(both.Single(g => g.Granted).Current.Active, now.Active);
            Assert.Contains("moved on first", both.Single(g => !g.Granted).Why, StringComparison.Ordinal);
        }
    }
}

public sealed class SqliteControllerElectionTests(ITestOutputHelper output) : ControllerElectionContract(output), IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-fleet-").FullName;

    protected override IStateStore Client() => new SqliteStateStore(Path.Combine(_dir, "fleet.db"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

public sealed class EtcdControllerElectionTests(EtcdClusterFixture etcd, ITestOutputHelper output) : ControllerElectionContract(output), IClassFixture<EtcdClusterFixture>
{
    private readonly string _namespace = "election-" + Guid.NewGuid().ToString("N");

    protected override string? Unavailable => etcd.Unavailable;

    protected override IStateStore Client() => etcd.Client(_namespace);
}
