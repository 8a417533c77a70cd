using Microsoft.Data.Sqlite;

namespace SnicRuntime.Management.Store;

/// <summary>Writes, history and leases of the embedded store (all under the caller's lock and transaction).</summary>
public sealed partial class SqliteStateStore
{
    private const int KindPut = 0, KindDelete = 1;

    /// <summary>Applies <paramref name="ops"/> as one revision; the revision after (unchanged when nothing changed).</summary>
    private long Apply(IReadOnlyList<StoreOp> ops, SqliteTransaction tx)
    {
        long current = CurrentRevision(tx);
        long revision = current + 1;
        int seq = 0;
        foreach (StoreOp op in ops)
        {
            StoreEntry? old = Read(op.Key, tx);
            if (op.IsDelete)
            {
                if (old is null)
                {
                    continue;
                }

                Exec("DELETE FROM kv WHERE key = $k", tx, ("$k", op.Key));
                Record(revision, seq++, KindDelete, old with { ModRevision = revision }, tx);
                continue;
            }

            if (op.Lease != 0 && Scalar("SELECT count(*) FROM leases WHERE id = $l", tx, ("$l", op.Lease)) == 0)
            {
                throw new StoreException($"lease {op.Lease} has expired or was revoked; '{op.Key}' was not written");
            }

            var entry = new StoreEntry(op.Key, op.Value!, old?.CreateRevision ?? revision, revision, (old?.Version ?? 0) + 1, op.Lease);
            Exec("INSERT OR REPLACE INTO kv VALUES ($k, $v, $c, $m, $ver, $l)", tx,
                ("$k", entry.Key), ("$v", entry.Value), ("$c", entry.CreateRevision), ("$m", entry.ModRevision), ("$ver", entry.Version), ("$l", entry.Lease));
            Record(revision, seq++, KindPut, entry, tx);
        }

        if (seq == 0)
        {
            return current;
        }

        Exec("UPDATE meta SET value = $r WHERE name = 'revision'", tx, ("$r", revision));
        return revision;
    }

    private void Record(long revision, int seq, int kind, StoreEntry e, SqliteTransaction tx) =>
        Exec("INSERT INTO history VALUES ($r, $s, $kind, $k, $v, $c, $m, $ver, $l)", tx, ("$r", revision), ("$s", seq), ("$kind", kind),
            ("$k", e.Key), ("$v", e.Value), ("$c", e.CreateRevision), ("$m", e.ModRevision), ("$ver", e.Version), ("$l", e.Lease));

    /// <summary>
    /// The changes under <paramref name="prefix"/> from revision <paramref name="from"/> on, in
    /// whole revisions (about a thousand events at a time, never a revision cut in two: a watcher
    /// resumes after the last revision it was given, and a mirror applies a revision at once).
    /// </summary>
    private List<WatchEvent> History(string prefix, long from)
    {
        const int Page = 1000;
        lock (_gate)
        {
            SweepExpiredLeases();
            List<WatchEvent> events = HistoryRows(prefix, from, Page);
            if (events.Count == Page)
            {
                long last = events[^1].Revision;
                if (events[0].Revision == last)
                {
                    events = HistoryRows(prefix, last, int.MaxValue, last); // one revision larger than a page: all of it
                }
                else
                {
                    events.RemoveAll(e => e.Revision == last); // the last revision may go on past the page: next time
                }
            }

            for (int i = 0; i < events.Count; i++)
            {
                events[i] = events[i] with { EndsRevision = i == events.Count - 1 || events[i + 1].Revision != events[i].Revision };
            }

            return events;
        }
    }

    private List<WatchEvent> HistoryRows(string prefix, long from, int limit, long to = long.MaxValue)
    {
        var events = new List<WatchEvent>();
        using SqliteCommand c = Command("SELECT kind, key, value, create_rev, mod_rev, version, lease, rev FROM history " +
            "WHERE rev >= $from AND rev <= $to AND substr(key, 1, $n) = $p ORDER BY rev, seq LIMIT $limit", null,
            ("$from", from), ("$to", to), ("$n", prefix.Length), ("$p", prefix), ("$limit", limit));
        using SqliteDataReader r = c.ExecuteReader();
        while (r.Read())
        {
            events.Add(new WatchEvent(r.GetInt32(0) == KindPut ? WatchEventKind.Put : WatchEventKind.Delete, EntryOf(r, 1), r.GetInt64(7)));
        }

        return events;
    }

    public Task<long> GrantLease(TimeSpan ttl, CancellationToken cancel = default)
    {
        if (ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "a lease needs a positive time to live");
        }

        lock (_gate)
        {
            using SqliteTransaction tx = _db.BeginTransaction(deferred: false);
            Exec("INSERT INTO leases (ttl_ms, expires_ms) VALUES ($t, $e)", tx, ("$t", (long)ttl.TotalMilliseconds), ("$e", NowMs() + (long)ttl.TotalMilliseconds));
            long id = Scalar("SELECT last_insert_rowid()", tx);
            tx.Commit();
            return Task.FromResult(id);
        }
    }

    public Task KeepAlive(long lease, CancellationToken cancel = default)
    {
        lock (_gate)
        {
            SweepExpiredLeases();
            using SqliteTransaction tx = _db.BeginTransaction(deferred: false);
            if (Exec("UPDATE leases SET expires_ms = $now + ttl_ms WHERE id = $l", tx, ("$now", NowMs()), ("$l", lease)) == 0)
            {
                throw new StoreException($"lease {lease} has expired or was revoked");
            }

            tx.Commit();
            return Task.CompletedTask;
        }
    }

    public Task Revoke(long lease, CancellationToken cancel = default)
    {
        lock (_gate)
        {
            using SqliteTransaction tx = _db.BeginTransaction(deferred: false);
            EndLeases([lease], tx);
            tx.Commit();
            return Task.CompletedTask;
        }
    }

    /// <summary>Deletes the keys of every lease past its expiry, as one revision (nothing when none has expired).</summary>
    private void SweepExpiredLeases()
    {
        if (Scalar("SELECT count(*) FROM leases WHERE expires_ms <= $now", null, ("$now", NowMs())) == 0)
        {
            return;
        }

        using SqliteTransaction tx = _db.BeginTransaction(deferred: false);
        var expired = new List<long>();
        using (SqliteCommand c = Command("SELECT id FROM leases WHERE expires_ms <= $now", tx, ("$now", NowMs())))
        using (SqliteDataReader r = c.ExecuteReader())
        {
            while (r.Read())
            {
                expired.Add(r.GetInt64(0));
            }
        }

        EndLeases(expired, tx);
        tx.Commit();
    }

    private void EndLeases(IReadOnlyList<long> leases, SqliteTransaction tx)
    {
        var keys = new List<StoreOp>();
        foreach (long lease in leases)
        {
            using (SqliteCommand c = Command("SELECT key FROM kv WHERE lease = $l", tx, ("$l", lease)))
            using (SqliteDataReader r = c.ExecuteReader())
            {
                while (r.Read())
                {
                    keys.Add(StoreOp.Delete(r.GetString(0)));
                }
            }

            Exec("DELETE FROM leases WHERE id = $l", tx, ("$l", lease));
        }

        Apply(keys, tx);
    }

    private long NowMs() => _clock.GetUtcNow().ToUnixTimeMilliseconds();
}
