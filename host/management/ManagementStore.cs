using Microsoft.Data.Sqlite;

namespace SnicRuntime.Management;

/// <summary>A card the management plane manages.</summary>
public sealed record Card(string Name, Uri Address, string Token, string? Board, string Role, DateTimeOffset Added);

/// <summary>A change plan journaled on this host before the journal moved into the store (schema 2 and older).</summary>
public sealed record LegacyPlan(long Generation, string Json, string Sha256, DateTimeOffset Created);

/// <summary>Where a card stands with a generation: pending, acked, refused (with the card's reasons) or unreachable.</summary>
public sealed record Delivery(string Card, long Generation, string State, string Detail, DateTimeOffset Updated);

/// <summary>
/// This host's durable state in one SQLite file: the cards it added, the HA scopes it paired and
/// the delivery state of the cards it served whole plans (its own, or the fleet's while it led). The plan journal is in the fleet's
/// store (<c>Fleet.PlanJournal</c>); schema 3 moved it there and keeps an older journal as
/// <c>legacy_plans</c> until it is adopted (<see cref="LegacyPlans"/>). Every change is one
/// transaction, so a crash leaves the previous state, never half of a new one.
/// </summary>
public sealed partial class ManagementStore : IDisposable
{
    private const int SchemaVersion = 3;
    private readonly SqliteConnection _db;
    // One connection, used by whoever shares this store in a process (a reconciler loop, a
    // telemetry collector, a command): SQLite connections are not thread-safe, so every
    // operation holds this lock.
    private readonly Lock _gate = new();

    public ManagementStore(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _db.Open();
        // busy_timeout first: the WAL switch takes a lock another process (a second controller
        // on this host) may hold for a moment.
        Execute("PRAGMA busy_timeout=5000; PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;");
        Migrate();
    }

    private void Migrate()
    {
        // One immediate transaction, the version read inside it: two processes opening a new
        // state directory at once (controllers on one host) must not both create the tables.
        using SqliteTransaction tx = _db.BeginTransaction(deferred: false);
        long version = Scalar<long>("PRAGMA user_version", tx);
        if (version > SchemaVersion)
        {
            throw new InvalidOperationException($"state database schema {version} is newer than this snicctl understands ({SchemaVersion})");
        }

        if (version == 0)
        {
            Execute("""
                CREATE TABLE cards (name TEXT PRIMARY KEY, address TEXT NOT NULL, token TEXT NOT NULL, board TEXT, role TEXT NOT NULL, added TEXT NOT NULL);
                CREATE TABLE plans (generation INTEGER PRIMARY KEY, json TEXT NOT NULL, sha256 TEXT NOT NULL, created TEXT NOT NULL);
                CREATE TABLE deliveries (card TEXT NOT NULL REFERENCES cards(name) ON DELETE CASCADE, generation INTEGER NOT NULL REFERENCES plans(generation),
                    state TEXT NOT NULL, detail TEXT NOT NULL, updated TEXT NOT NULL, PRIMARY KEY (card, generation));
                PRAGMA user_version = 1;
                """, tx);
            version = 1;
        }

        if (version == 1)
        {
            Execute(HaSchema + "PRAGMA user_version = 2;", tx);
            version = 2;
        }

        if (version == 2)
        {
            // The journal moved into the store: generation numbers come from there, so deliveries
            // no longer reference a local plans row; nor a local card: this host may deliver to a
            // card another host added (the fleet's inventory), when its controller leads.
            Execute("""
                ALTER TABLE plans RENAME TO legacy_plans;
                CREATE TABLE deliveries_v3 (card TEXT NOT NULL, generation INTEGER NOT NULL,
                    state TEXT NOT NULL, detail TEXT NOT NULL, updated TEXT NOT NULL, PRIMARY KEY (card, generation));
                INSERT INTO deliveries_v3 SELECT card, generation, state, detail, updated FROM deliveries;
                DROP TABLE deliveries;
                ALTER TABLE deliveries_v3 RENAME TO deliveries;
                PRAGMA user_version = 3;
                """, tx);
        }

        tx.Commit();
    }

    public void AddCard(Card card)
    {
        lock (_gate)
        {
            ArgumentNullException.ThrowIfNull(card);
            try
            {
                Execute("INSERT INTO cards VALUES ($n, $a, $t, $b, $r, $d)", null,
                    ("$n", card.Name), ("$a", card.Address.ToString()), ("$t", card.Token), ("$b", card.Board), ("$r", card.Role), ("$d", card.Added.ToString("O")));
            }
            catch (SqliteException e) when (e.SqliteErrorCode == 19)
            {
                throw new InvalidOperationException($"a card named '{card.Name}' is already in the inventory", e);
            }
        }
    }

    public bool RemoveCard(string name)
    {
        lock (_gate)
        {
            Execute("DELETE FROM deliveries WHERE card = $n", null, ("$n", name));
            return Execute("DELETE FROM cards WHERE name = $n", null, ("$n", name)) > 0;
        }
    }

    public IReadOnlyList<Card> Cards() => ReadCards(null);

    private List<Card> ReadCards(string? name)
    {
        lock (_gate)
        {
            const string Select = "SELECT name, address, token, board, role, added FROM cards";
            using SqliteCommand cmd = name is null ? Command(Select + " ORDER BY name") : Command(Select + " WHERE name = $n", null, ("$n", name));

            using SqliteDataReader r = cmd.ExecuteReader();
            var list = new List<Card>();
            while (r.Read())
            {
                list.Add(new Card(r.GetString(0), new Uri(r.GetString(1)), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetString(4), DateTimeOffset.Parse(r.GetString(5), System.Globalization.CultureInfo.InvariantCulture)));
            }

            return list;
        }
    }

    public Card? FindCard(string name) => ReadCards(name).FirstOrDefault(); // by key: delivery asks per card, and a fleet has thousands

    /// <summary>Plans journaled here before the journal moved into the store, oldest first (none once adopted).</summary>
    public IReadOnlyList<LegacyPlan> LegacyPlans()
    {
        lock (_gate)
        {
            using SqliteCommand cmd = Command("SELECT generation, json, sha256, created FROM legacy_plans ORDER BY generation");
            using SqliteDataReader r = cmd.ExecuteReader();
            var list = new List<LegacyPlan>();
            while (r.Read())
            {
                list.Add(new LegacyPlan(r.GetInt64(0), r.GetString(1), r.GetString(2), DateTimeOffset.Parse(r.GetString(3), System.Globalization.CultureInfo.InvariantCulture)));
            }

            return list;
        }
    }

    /// <summary>Forgets the legacy journal once the store's journal holds it.</summary>
    public void ForgetLegacyPlans()
    {
        lock (_gate)
        {
            Execute("DELETE FROM legacy_plans");
        }
    }

    /// <summary>Marks a generation pending for each of <paramref name="cards"/> (cards this host serves whole plans).</summary>
    public void Pending(long generation, IEnumerable<string> cards)
    {
        lock (_gate)
        {
            using SqliteTransaction tx = _db.BeginTransaction();
            string now = DateTimeOffset.UtcNow.ToString("O");
            foreach (string card in cards)
            {
                Execute("INSERT OR IGNORE INTO deliveries VALUES ($c, $g, 'pending', '', $d)", tx, ("$c", card), ("$g", generation), ("$d", now));
            }

            tx.Commit();
        }
    }

    public void Record(string card, long generation, string state, string detail)
    {
        lock (_gate)
        {
            Execute("INSERT INTO deliveries VALUES ($c, $g, $s, $x, $d) ON CONFLICT(card, generation) DO UPDATE SET state = $s, detail = $x, updated = $d", null,
            ("$c", card), ("$g", generation), ("$s", state), ("$x", detail), ("$d", DateTimeOffset.UtcNow.ToString("O")));
        }
    }

    public IReadOnlyList<Delivery> Deliveries(long? generation = null)
    {
        lock (_gate)
        {
            using SqliteCommand cmd = Command("SELECT card, generation, state, detail, updated FROM deliveries WHERE $g IS NULL OR generation = $g ORDER BY generation, card");
            cmd.Parameters.AddWithValue("$g", (object?)generation ?? DBNull.Value);
            using SqliteDataReader r = cmd.ExecuteReader();
            var list = new List<Delivery>();
            while (r.Read())
            {
                list.Add(new Delivery(r.GetString(0), r.GetInt64(1), r.GetString(2), r.GetString(3), DateTimeOffset.Parse(r.GetString(4), System.Globalization.CultureInfo.InvariantCulture)));
            }
    
            return list;
        }
    }

    /// <summary>The newest generation <paramref name="card"/> has acknowledged (0 for none).</summary>
    public long AckedGeneration(string card)
    {
        lock (_gate)
        {
            return Scalar<long>("SELECT COALESCE(MAX(generation), 0) FROM deliveries WHERE card = $c AND state = 'acked'", null, ("$c", card));
        }
    }

    private SqliteCommand Command(string sql, SqliteTransaction? tx = null, params (string Name, object? Value)[] args)
    {
        SqliteCommand cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        foreach ((string n, object? v) in args)
        {
            cmd.Parameters.AddWithValue(n, v ?? DBNull.Value);
        }

        return cmd;
    }

    private int Execute(string sql, SqliteTransaction? tx = null, params (string Name, object? Value)[] args)
    {
        using SqliteCommand cmd = Command(sql, tx, args);
        return cmd.ExecuteNonQuery();
    }

    private T Scalar<T>(string sql, SqliteTransaction? tx = null, params (string Name, object? Value)[] args)
    {
        using SqliteCommand cmd = Command(sql, tx, args);
        return (T)Convert.ChangeType(cmd.ExecuteScalar()!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _db.Dispose();
        }
    }
}
