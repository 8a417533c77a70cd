using System.Text;
using SnicRuntime.Management.Store;
using Xunit;

namespace SnicRuntime.Tests.Host.Management.Store;

/// <summary>
/// The contract every <see cref="IStateStore"/> backend keeps (etcd's v3 semantics): revisions,
/// compare-and-swap, watches from a revision, leases. One abstract suite, run for every backend.
/// </summary>
public abstract partial class StateStoreContract : IAsyncLifetime
{
    private IStateStore? _store;

    /// <summary>The store under test; skips the test (with its reason) where the backend cannot run here.</summary>
    protected IStateStore Store
    {
        get
        {
            Skip.If(Unavailable is not null, Unavailable);
            return _store!;
        }
    }

    /// <summary>Why this backend cannot run on this machine, or null.</summary>
    protected virtual string? Unavailable => null;

    /// <summary>A new, empty store.</summary>
    protected abstract IStateStore Open();

    /// <summary>A second client of the same store (another process would have its own).</summary>
    protected abstract IStateStore OpenAnotherClient();

    public Task InitializeAsync()
    {
        _store = Unavailable is null ? Open() : null;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
    }

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static string S(byte[] b) => Encoding.UTF8.GetString(b);

    [SkippableFact]
    public async Task Every_write_is_a_revision_and_keys_remember_theirs()
    {
        long r0 = await Store.Revision();
        long r1 = await Store.Put("/enis/a", B("1"));
        long r2 = await Store.Put("/enis/a", B("2"));
        Assert.Equal(r0 + 1, r1);
        Assert.Equal(r1 + 1, r2);
        StoreEntry a = (await Store.Get("/enis/a"))!;
        Assert.Equal("2", S(a.Value));
        Assert.Equal(r1, a.CreateRevision);
        Assert.Equal(r2, a.ModRevision);
        Assert.Equal(2, a.Version);
        Assert.Null(await Store.Get("/enis/b"));

        long r3 = await Store.Delete("/enis/a");
        Assert.Equal(r2 + 1, r3);
        Assert.Null(await Store.Get("/enis/a"));
        Assert.Equal(r3, await Store.Delete("/enis/a")); // nothing to delete: no new revision
    }

    [SkippableFact]
    public async Task A_range_is_every_key_under_a_prefix_in_key_order()
    {
        await Store.Put("/sets/s2", B("x"));
        await Store.Put("/enis/b", B("b"));
        await Store.Put("/enis/a", B("a"));
        long last = await Store.Put("/enisx", B("not under /enis/"));
        (IReadOnlyList<StoreEntry> entries, long revision) = await Store.Range("/enis/");
        Assert.Equal(["/enis/a", "/enis/b"], entries.Select(e => e.Key));
        Assert.Equal(last, revision);
    }

    [SkippableFact]
    public async Task Compare_and_swap_creates_once_and_updates_only_from_the_revision_read()
    {
        TxnResult first = await Store.Txn([StoreCompare.Absent("/terms/scope1")], [StoreOp.Put("/terms/scope1", B("card-a:1"))]);
        TxnResult second = await Store.Txn([StoreCompare.Absent("/terms/scope1")], [StoreOp.Put("/terms/scope1", B("card-b:1"))],
            [StoreOp.Put("/log/refused", B("card-b"))]);
        Assert.True(first.Succeeded);
        Assert.False(second.Succeeded);
        Assert.Equal("card-a:1", S((await Store.Get("/terms/scope1"))!.Value));
        Assert.Equal("card-b", S((await Store.Get("/log/refused"))!.Value)); // the failure branch ran

        StoreEntry read = (await Store.Get("/terms/scope1"))!;
        Assert.True((await Store.Txn([StoreCompare.ModRevisionIs("/terms/scope1", read.ModRevision)], [StoreOp.Put("/terms/scope1", B("card-b:2"))])).Succeeded);
        Assert.False((await Store.Txn([StoreCompare.ModRevisionIs("/terms/scope1", read.ModRevision)], [StoreOp.Put("/terms/scope1", B("card-a:3"))])).Succeeded);
        Assert.True((await Store.Txn([StoreCompare.ValueIs("/terms/scope1", B("card-b:2"))], [StoreOp.Delete("/terms/scope1")])).Succeeded);
        Assert.Null(await Store.Get("/terms/scope1"));
    }

    [SkippableFact]
    public async Task Two_clients_racing_for_one_key_have_exactly_one_winner_each_round()
    {
        Skip.If(Unavailable is not null, Unavailable);
        await using IStateStore other = OpenAnotherClient();
        for (int round = 0; round < 20; round++)
        {
            string key = $"/terms/race{round}";
            Task<TxnResult> a = Task.Run(() => Store.Txn([StoreCompare.Absent(key)], [StoreOp.Put(key, B("a"))]));
            Task<TxnResult> b = Task.Run(() => other.Txn([StoreCompare.Absent(key)], [StoreOp.Put(key, B("b"))]));
            TxnResult[] results = await Task.WhenAll(a, b);
            Assert.Equal(1, results.Count(r => r.Succeeded));
            string winner = results[0].Succeeded ? "a" : "b";
            Assert.Equal(winner, S((await other.Get(key))!.Value));
        }
    }

    [SkippableFact]
    public async Task A_watch_replays_from_its_revision_then_follows_and_sees_deletes()
    {
        long before = await Store.Put("/enis/a", B("1"));
        await Store.Put("/other/x", B("ignored"));
        await Store.Put("/enis/b", B("2"));
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<WatchEvent>();
        Task watching = Task.Run(async () =>
        {
            await foreach (WatchEvent e in Store.Watch("/enis/", before, cancel.Token))
            {
                seen.Add(e);
                if (seen.Count == 4)
                {
                    break;
                }
            }
        });
        await using IStateStore other = OpenAnotherClient();
        await other.Put("/enis/c", B("3"));
        await other.Delete("/enis/a");
        await watching.WaitAsync(cancel.Token);
        Assert.Equal(["/enis/a", "/enis/b", "/enis/c", "/enis/a"], seen.Select(e => e.Entry.Key));
        Assert.Equal([WatchEventKind.Put, WatchEventKind.Put, WatchEventKind.Put, WatchEventKind.Delete], seen.Select(e => e.Kind));
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.First.Revision < p.Second.Revision), "revisions increase along a watch");
    }

    [SkippableFact]
    public async Task A_lease_keeps_its_keys_while_kept_alive_and_deletes_them_when_it_lapses()
    {
        // A TTL well above the keep-alive interval: a loaded CI machine (the scalar pass, etcd
        // clusters starting beside it) has paused this test for more than 1.5 s.
        long lease = await Store.GrantLease(TimeSpan.FromSeconds(4));
        await Store.Put("/controllers/leader", B("ctl-1"), lease);
        for (int i = 0; i < 10; i++)
        {
            await Task.Delay(500);
            await Store.KeepAlive(lease);
        }

        Assert.NotNull(await Store.Get("/controllers/leader")); // 5 s, past its TTL, kept alive every 500 ms
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await Store.Get("/controllers/leader") is not null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Null(await Store.Get("/controllers/leader"));
        await Assert.ThrowsAsync<StoreException>(() => Store.KeepAlive(lease));
    }

    [SkippableFact]
    public async Task A_revoked_lease_deletes_its_keys_and_a_write_under_it_changes_nothing()
    {
        long lease = await Store.GrantLease(TimeSpan.FromSeconds(30));
        await Store.Put("/cards/c1/alive", B("1"), lease);
        await Store.Revoke(lease);
        Assert.Null(await Store.Get("/cards/c1/alive"));
        long revision = await Store.Revision();
        var e = await Assert.ThrowsAsync<StoreException>(() => Store.Txn([], [StoreOp.Put("/cards/c1/other", B("x")), StoreOp.Put("/cards/c1/alive", B("2"), lease)]));
        Assert.Contains($"lease {lease}", e.Message, StringComparison.Ordinal);
        Assert.Null(await Store.Get("/cards/c1/other")); // the whole transaction, not half of it
        Assert.Equal(revision, await Store.Revision());
    }
}
