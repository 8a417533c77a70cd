using Microsoft.Data.Sqlite;

namespace SnicRuntime.Management.Store;

/// <summary>Reads, compares and the SQL plumbing of the embedded store.</summary>
public sealed partial class SqliteStateStore
{
    private long CurrentRevision(SqliteTransaction? tx) => Scalar("SELECT value FROM meta WHERE name = 'revision'", tx);

    private StoreEntry? Read(string key, SqliteTransaction? tx)
    {
        using SqliteCommand c = Command("SELECT key, value, create_rev, mod_rev, version, lease FROM kv WHERE key = $k", tx, ("$k", key));
        using SqliteDataReader r = c.ExecuteReader();
        return r.Read() ? EntryOf(r, 0) : null;
    }

    private static StoreEntry EntryOf(SqliteDataReader r, int at) =>
        new(r.GetString(at), (byte[])r.GetValue(at + 1), r.GetInt64(at + 2), r.GetInt64(at + 3), r.GetInt64(at + 4), r.GetInt64(at + 5));

    /// <summary>Whether <paramref name="c"/> holds for the key's state (a missing key has version 0, mod revision 0 and no value).</summary>
    internal static bool Holds(StoreCompare c, StoreEntry? e)
    {
        if (c.Target == CompareTarget.Value)
        {
            bool equal = e is not null && c.Value is not null && e.Value.AsSpan().SequenceEqual(c.Value);
            return c.Op switch
            {
                CompareOp.Equal => equal,
                CompareOp.NotEqual => !equal,
                _ => throw new ArgumentException("values compare only for equality", nameof(c)),
            };
        }

        long actual = c.Target == CompareTarget.Version ? e?.Version ?? 0 : e?.ModRevision ?? 0;
        return c.Op switch
        {
            CompareOp.Equal => actual == c.Number,
            CompareOp.NotEqual => actual != c.Number,
            CompareOp.Less => actual < c.Number,
            _ => actual > c.Number,
        };
    }

    private SqliteCommand Command(string sql, SqliteTransaction? tx, params (string Name, object? Value)[] args)
    {
        SqliteCommand c = _db.CreateCommand();
        c.CommandText = sql;
        c.Transaction = tx;
        foreach ((string name, object? value) in args)
        {
            c.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return c;
    }

    private int Exec(string sql, SqliteTransaction? tx, params (string Name, object? Value)[] args)
    {
        using SqliteCommand c = Command(sql, tx, args);
        return c.ExecuteNonQuery();
    }

    private void Execute(string sql)
    {
        using SqliteCommand c = Command(sql, null);
        c.ExecuteNonQuery();
    }

    private long Scalar(string sql, SqliteTransaction? tx, params (string Name, object? Value)[] args)
    {
        using SqliteCommand c = Command(sql, tx, args);
        return Convert.ToInt64(c.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
