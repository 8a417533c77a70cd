using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace SnicRuntime.Management.Store;

/// <summary>
/// The embedded backend of <see cref="IStateStore"/>: one SQLite file (WAL) that any number of
/// processes on one host may share. Every write is one <c>BEGIN IMMEDIATE</c> transaction, so
/// writers are serialized by SQLite itself and a crash leaves the previous revision whole. Each
/// write transaction appends its changes to a history table, which is what a watch reads (SQLite
/// has no notifications across processes, so a watch polls it every 10 ms). Leases live in the
/// file with wall-clock expiry: whoever uses the store next (a write, a read, a watch's poll)
/// deletes the keys of expired leases, as one revision.
/// </summary>
public sealed partial class SqliteStateStore : IStateStore
{
    private readonly SqliteConnection _db;
    private readonly Lock _gate = new(); // SQLite connections are not thread-safe
    private readonly TimeProvider _clock;

    public SqliteStateStore(string path, TimeProvider? clock = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        _clock = clock ?? TimeProvider.System;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
            _db.Open();
            // busy_timeout first: switching to WAL takes a lock, and a second process opening the
            // same file at that moment must wait for it rather than fail at once.
            Execute("PRAGMA busy_timeout=5000; PRAGMA journal_mode=WAL;");
            Execute("""
                CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT OR IGNORE INTO meta VALUES ('revision', 0);
                CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, create_rev INTEGER NOT NULL,
                    mod_rev INTEGER NOT NULL, version INTEGER NOT NULL, lease INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS history (rev INTEGER NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL, key TEXT NOT NULL,
                    value BLOB NOT NULL, create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, version INTEGER NOT NULL, lease INTEGER NOT NULL,
                    PRIMARY KEY (rev, seq));
                CREATE TABLE IF NOT EXISTS leases (id INTEGER PRIMARY KEY AUTOINCREMENT, ttl_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
                """);
        }
        catch (SqliteException e)
        {
            throw new StoreException($"state store {path}: {e.Message}", e);
        }
    }

    public Task<long> Revision(CancellationToken cancel = default)
    {
        lock (_gate)
        {
            SweepExpiredLeases();
            return Task.FromResult(CurrentRevision(null));
        }
    }

    public Task<StoreEntry?> Get(string key, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_gate)
        {
            SweepExpiredLeases();
            return Task.FromResult(Read(key, null));
        }
    }

    public Task<(IReadOnlyList<StoreEntry> Entries, long Revision)> Range(string prefix, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        lock (_gate)
        {
            SweepExpiredLeases();
            using SqliteTransaction tx = _db.BeginTransaction(deferred: true);
            var entries = new List<StoreEntry>();
            using (SqliteCommand c = Command("SELECT key, value, create_rev, mod_rev, version, lease FROM kv WHERE substr(key, 1, $n) = $p ORDER BY key", tx,
                ("$n", prefix.Length), ("$p", prefix)))
            using (SqliteDataReader r = c.ExecuteReader())
            {
                while (r.Read())
                {
                    entries.Add(EntryOf(r, 0));
                }
            }

            long revision = CurrentRevision(tx);
            tx.Commit();
            return Task.FromResult<(IReadOnlyList<StoreEntry>, long)>((entries, revision));
        }
    }

    public async Task<long> Put(string key, byte[] value, long lease = 0, CancellationToken cancel = default) =>
        (await Txn([], [StoreOp.Put(key, value, lease)], null, cancel).ConfigureAwait(false)).Revision;

    public async Task<long> Delete(string key, CancellationToken cancel = default) =>
        (await Txn([], [StoreOp.Delete(key)], null, cancel).ConfigureAwait(false)).Revision;

    public Task<TxnResult> Txn(IReadOnlyList<StoreCompare> compares, IReadOnlyList<StoreOp> success, IReadOnlyList<StoreOp>? failure = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(compares);
        ArgumentNullException.ThrowIfNull(success);
        lock (_gate)
        {
            SweepExpiredLeases();
            using SqliteTransaction tx = _db.BeginTransaction(deferred: false);
            bool ok = compares.All(c => Holds(c, Read(c.Key, tx)));
            long revision = Apply(ok ? success : failure ?? [], tx);
            tx.Commit();
            return Task.FromResult(new TxnResult(ok, revision));
        }
    }

    public async IAsyncEnumerable<WatchEvent> Watch(string prefix, long fromRevision, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        long next = Math.Max(1, fromRevision);
        while (!cancel.IsCancellationRequested)
        {
            List<WatchEvent> batch = History(prefix, next);
            foreach (WatchEvent e in batch)
            {
                yield return e;
                next = e.Revision + 1;
            }

            if (batch.Count == 0)
            {
                try
                {
                    await Task.Delay(10, cancel).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    yield break;
                }
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            _db.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}
