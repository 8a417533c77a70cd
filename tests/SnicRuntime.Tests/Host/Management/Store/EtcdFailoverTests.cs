using System.Diagnostics;
using System.Text;
using SnicRuntime.Management.Store;
using SnicRuntime.TestKit.Store;
using Xunit;
using Xunit.Abstractions;

namespace SnicRuntime.Tests.Host.Management.Store;

/// <summary>
/// The etcd backend while members die: a real 3-member cluster, members SIGKILLed mid-run. What
/// must hold: every write the store acknowledged is there afterwards and was seen once by a watch,
/// in order; a write is refused only while no leader exists, with an error that says so.
/// </summary>
public sealed class EtcdFailoverTests(ITestOutputHelper output) : IDisposable
{
    private readonly EtcdCluster? _cluster = EtcdCluster.Unavailable is null ? new EtcdCluster(3) : null;

    private EtcdStateStore Client(TimeSpan timeout) => new(StoreAddress.Parse($"etcd://{_cluster!.Endpoints}/failover"), timeout: timeout);

    [SkippableFact]
    public async Task Writes_and_a_watch_go_on_when_a_follower_then_the_leader_are_SIGKILLed()
    {
        Skip.If(_cluster is null, EtcdCluster.Unavailable);
        await using EtcdStateStore store = Client(TimeSpan.FromSeconds(5));
        long from = await store.Revision() + 1;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var seen = new List<WatchEvent>();
        const int writes = 300;
        var acked = new Dictionary<string, long>();
        Task watching = Task.Run(async () =>
        {
            await using EtcdStateStore watcher = Client(TimeSpan.FromSeconds(5));
            await foreach (WatchEvent e in watcher.Watch("/w/", from, stop.Token))
            {
                seen.Add(e);
                if (e.Entry.Key == $"/w/k{writes - 1}")
                {
                    break;
                }
            }
        });

        int failed = 0, follower = 0;
        var longest = TimeSpan.Zero;
        for (int i = 0; i < writes; i++)
        {
            if (i == 100)
            {
                follower = (_cluster!.Leader() + 1) % _cluster.Size;
                _cluster.Kill(follower);
            }
            else if (i == 150)
            {
                _cluster!.Restart(follower); // back to three, so losing the leader next leaves a quorum
                _cluster.WaitHealthy(3, TimeSpan.FromSeconds(20));
            }
            else if (i == 200)
            {
                _cluster!.Kill(_cluster.Leader());
            }

            var timer = Stopwatch.StartNew();
            try
            {
                acked[$"/w/k{i}"] = await store.Put($"/w/k{i}", Encoding.UTF8.GetBytes(i.ToString()));
                longest = timer.Elapsed > longest ? timer.Elapsed : longest;
            }
            catch (StoreException e)
            {
                // Only a write in flight as the leader died may end this way ("may or may not apply").
                failed++;
                output.WriteLine($"write {i}: {e.Message}");
            }
        }

        await watching.WaitAsync(stop.Token);
        output.WriteLine($"acked={acked.Count} failed={failed} longest_acked_write_ms={longest.TotalMilliseconds:0}");
        Assert.True(failed <= 1, $"{failed} writes failed; only the one in flight when the leader died may");
        // A write that found no leader waited for the election (half a second here), then went through.
        Assert.True(longest < TimeSpan.FromSeconds(3), $"an acknowledged write waited {longest.TotalMilliseconds:0} ms");
        foreach ((string key, long revision) in acked)
        {
            Assert.Equal(revision, (await store.Get(key))!.ModRevision);
        }

        var watched = seen.Where(e => acked.ContainsKey(e.Entry.Key)).ToList();
        Assert.Equal(acked.Count, watched.Select(e => e.Entry.Key).Distinct().Count()); // each acknowledged write seen...
        Assert.Equal(watched.Count, watched.Select(e => e.Revision).Distinct().Count()); // ...once
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.First.Revision < p.Second.Revision), "the watch resumed without replaying or skipping");
    }

    [SkippableFact]
    public async Task A_cluster_without_quorum_refuses_with_a_clear_error_and_converges_when_quorum_returns()
    {
        Skip.If(_cluster is null, EtcdCluster.Unavailable);
        await using EtcdStateStore store = Client(TimeSpan.FromSeconds(2));
        long before = await store.Put("/q/kept", "1"u8.ToArray());
        int leader = _cluster!.Leader();
        _cluster.Kill(leader);
        _cluster.Kill((leader + 1) % _cluster.Size);

        var e = await Assert.ThrowsAsync<StoreException>(() => store.Put("/q/refused", "x"u8.ToArray()));
        output.WriteLine(e.Message);
        Assert.Contains("quorum", e.Message, StringComparison.Ordinal);
        Assert.Contains(_cluster.Endpoints.Split(',')[0], e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<StoreException>(() => store.Range("/q/")); // reads are linearizable: no stale answer either

        _cluster.Restart(leader);
        _cluster.WaitHealthy(2, TimeSpan.FromSeconds(20));
        long after = await store.Put("/q/after", "2"u8.ToArray());
        Assert.True(after > before);
        Assert.Equal(before, (await store.Get("/q/kept"))!.ModRevision);
    }

    public void Dispose() => _cluster?.Dispose();
}
