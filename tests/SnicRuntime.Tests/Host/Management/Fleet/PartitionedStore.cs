using System.Runtime.CompilerServices;
using SnicRuntime.Management.Store;

namespace SnicRuntime.Tests.Host.Management.Fleet;

/// <summary>A store client that can be cut off from its store, as a controller behind a partition is: every call fails while <see cref="Cut"/>; keep-alives hang while <see cref="Stalled"/>.</summary>
internal sealed class PartitionedStore(IStateStore inner) : IStateStore
{
    public volatile bool Cut;

    /// <summary>Keep-alives hang (not fail) while set: what a leader sees while its store elects a new leader of its own.</summary>
    public volatile bool Stalled;

    /// <summary>Transactions left before the client is cut off (a publisher killed mid-publish); negative: no limit.</summary>
    public int TxnsLeft = -1;

    private void Check()
    {
        if (Cut)
        {
            throw new StoreException("partitioned from the store (test)");
        }
    }

    public Task<long> Revision(CancellationToken cancel = default)
    {
        Check();
        return inner.Revision(cancel);
    }

    public Task<StoreEntry?> Get(string key, CancellationToken cancel = default)
    {
        Check();
        return inner.Get(key, cancel);
    }

    public Task<(IReadOnlyList<StoreEntry> Entries, long Revision)> Range(string prefix, CancellationToken cancel = default)
    {
        Check();
        return inner.Range(prefix, cancel);
    }

    public Task<long> Put(string key, byte[] value, long lease = 0, CancellationToken cancel = default)
    {
        Check();
        return inner.Put(key, value, lease, cancel);
    }

    public Task<long> Delete(string key, CancellationToken cancel = default)
    {
        Check();
        return inner.Delete(key, cancel);
    }

    public Task<TxnResult> Txn(IReadOnlyList<StoreCompare> compares, IReadOnlyList<StoreOp> success, IReadOnlyList<StoreOp>? failure = null, CancellationToken cancel = default)
    {
        if (TxnsLeft == 0)
        {
            Cut = true;
        }

        Check();
        if (TxnsLeft > 0)
        {
            TxnsLeft--;
        }

        return inner.Txn(compares, success, failure, cancel);
    }

    public async IAsyncEnumerable<WatchEvent> Watch(string prefix, long fromRevision, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        Check();
        await foreach (WatchEvent e in inner.Watch(prefix, fromRevision, cancel))
        {
            Check();
            yield return e;
        }
    }

    public Task<long> GrantLease(TimeSpan ttl, CancellationToken cancel = default)
    {
        Check();
        return inner.GrantLease(ttl, cancel);
    }

    public async Task KeepAlive(long lease, CancellationToken cancel = default)
    {
        while (Stalled)
        {
            await Task.Delay(5, cancel); // unanswered, as during an etcd election: it goes through when the store is back
        }

        Check();
        await inner.KeepAlive(lease, cancel);
    }

    public Task Revoke(long lease, CancellationToken cancel = default)
    {
        Check();
        return inner.Revoke(lease, cancel);
    }

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
