namespace SnicRuntime.Management.Store;

/// <summary>
/// One key of the desired state, as etcd keeps it: the value, the store revision that created
/// the key and the one that last changed it, how many times it changed since it was created, and
/// the lease it lives under (0: none).
/// </summary>
public sealed record StoreEntry(string Key, byte[] Value, long CreateRevision, long ModRevision, long Version, long Lease);

/// <summary>What a transaction compares a key's state with.</summary>
public enum CompareTarget : byte
{
    /// <summary>Times the key changed since creation; 0 means the key does not exist.</summary>
    Version,
    /// <summary>The store revision of the key's last change; 0 when it does not exist.</summary>
    ModRevision,
    /// <summary>The key's value, byte for byte (a missing key never equals).</summary>
    Value,
}

public enum CompareOp : byte
{
    Equal,
    NotEqual,
    Less,
    Greater,
}

/// <summary>One condition of a transaction, e.g. <c>Version(key) == 0</c> ("the key does not exist yet").</summary>
public sealed record StoreCompare(string Key, CompareTarget Target, CompareOp Op, long Number = 0, byte[]? Value = null)
{
    public static StoreCompare Absent(string key) => new(key, CompareTarget.Version, CompareOp.Equal, 0);

    public static StoreCompare Present(string key) => new(key, CompareTarget.Version, CompareOp.Greater, 0);

    public static StoreCompare ModRevisionIs(string key, long revision) => new(key, CompareTarget.ModRevision, CompareOp.Equal, revision);

    public static StoreCompare ValueIs(string key, byte[] value) => new(key, CompareTarget.Value, CompareOp.Equal, Value: value);
}

/// <summary>A write inside a transaction: a put (with an optional lease) or a delete.</summary>
public sealed record StoreOp(string Key, byte[]? Value, long Lease = 0)
{
    public bool IsDelete => Value is null;

    public static StoreOp Put(string key, byte[] value, long lease = 0) => new(key, value, lease);

    public static StoreOp Delete(string key) => new(key, null);
}

/// <summary>A transaction's outcome: whether every compare held (so the success ops ran), and the store revision after it.</summary>
public readonly record struct TxnResult(bool Succeeded, long Revision);

public enum WatchEventKind : byte
{
    Put,
    Delete,
}

/// <summary>
/// A change seen by a watch; <see cref="Entry"/> is the key's state after a put, or before a
/// delete. A transaction's changes share one revision and come one after another;
/// <see cref="EndsRevision"/> marks the last of them, so a reader that applies whole revisions
/// (<see cref="StoreMirror"/>) never shows half a transaction.
/// </summary>
public sealed record WatchEvent(WatchEventKind Kind, StoreEntry Entry, long Revision, bool EndsRevision = true);

/// <summary>The store could not do what was asked (unreachable, quorum lost, a lease gone), in words that name the cause.</summary>
public sealed class StoreException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The management plane's desired state, shaped like etcd's v3 model: keys with revisions, a
/// transaction that compares then writes atomically (compare-and-swap), watches from a revision,
/// and leases whose keys vanish when they expire. Two backends, one contract test suite:
/// <see cref="SqliteStateStore"/> (embedded, one host, nothing to install) and etcd (the
/// distributed default a fleet grows into; issue 21). Flows are never stored here.
/// </summary>
public interface IStateStore : IAsyncDisposable
{
    /// <summary>The store's current revision (every successful write transaction adds one).</summary>
    Task<long> Revision(CancellationToken cancel = default);

    Task<StoreEntry?> Get(string key, CancellationToken cancel = default);

    /// <summary>Every key starting with <paramref name="prefix"/>, in key order, and the revision they were read at.</summary>
    Task<(IReadOnlyList<StoreEntry> Entries, long Revision)> Range(string prefix, CancellationToken cancel = default);

    Task<long> Put(string key, byte[] value, long lease = 0, CancellationToken cancel = default);

    /// <summary>Deletes <paramref name="key"/>; the revision after (unchanged when there was no such key).</summary>
    Task<long> Delete(string key, CancellationToken cancel = default);

    /// <summary>If every compare holds, applies <paramref name="success"/>, else <paramref name="failure"/>, as one revision.</summary>
    Task<TxnResult> Txn(IReadOnlyList<StoreCompare> compares, IReadOnlyList<StoreOp> success, IReadOnlyList<StoreOp>? failure = null, CancellationToken cancel = default);

    /// <summary>Changes to keys under <paramref name="prefix"/> from <paramref name="fromRevision"/> on (history first, then live), until cancelled.</summary>
    IAsyncEnumerable<WatchEvent> Watch(string prefix, long fromRevision, CancellationToken cancel = default);

    /// <summary>A lease that expires <paramref name="ttl"/> after its last keep-alive; keys put under it are deleted then.</summary>
    Task<long> GrantLease(TimeSpan ttl, CancellationToken cancel = default);

    /// <summary>Extends the lease by its TTL; throws <see cref="StoreException"/> when it has expired or was revoked.</summary>
    Task KeepAlive(long lease, CancellationToken cancel = default);

    /// <summary>Ends the lease now and deletes its keys.</summary>
    Task Revoke(long lease, CancellationToken cancel = default);
}
