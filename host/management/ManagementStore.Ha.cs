using Microsoft.Data.Sqlite;

namespace SnicRuntime.Management;

/// <summary>
/// One HA scope as the management plane records it: the two cards, which one holds the scope
/// (active) under which term, the ENIs it covers, the pairing key and the replication endpoints.
/// The term only grows; it is the fence against old actives.
/// </summary>
public sealed record HaScopeRecord(string Scope, string CardA, string CardB, string Active, long Term, IReadOnlyList<string> Enis,
    string Key, string SyncA, string SyncB, string UnderlayA, string UnderlayB)
{
    public string Standby => Active == CardA ? CardB : CardA;

    /// <summary>
    /// A card's replication endpoint as stored: "BIND", or "BIND via REACH" when its peer reaches it
    /// at another address (a relay or NAT between the cards: the fault benchmark cuts the sync link
    /// in a relay). The card binds BIND; its peer sends to, and accepts only from, REACH.
    /// </summary>
    public static string SyncBind(string sync) => sync.Split(" via ", 2)[0];

    /// <summary>Where a card's peer sends to (and hears it from): REACH when given, else BIND.</summary>
    public static string SyncReach(string sync)
    {
        string[] parts = sync.Split(" via ", 2);
        return parts.Length == 2 ? parts[1] : parts[0];
    }
}

public sealed partial class ManagementStore
{
    private const string HaSchema = """
        CREATE TABLE ha_scopes (scope TEXT PRIMARY KEY, card_a TEXT NOT NULL, card_b TEXT NOT NULL, active TEXT NOT NULL, term INTEGER NOT NULL,
            enis TEXT NOT NULL, key TEXT NOT NULL, sync_a TEXT NOT NULL, sync_b TEXT NOT NULL, underlay_a TEXT NOT NULL, underlay_b TEXT NOT NULL,
            updated TEXT NOT NULL);
        """;

    public void AddHaScope(HaScopeRecord s)
    {
        ArgumentNullException.ThrowIfNull(s);
        lock (_gate)
        {
            try
            {
                Execute("INSERT INTO ha_scopes VALUES ($s, $a, $b, $act, $t, $e, $k, $sa, $sb, $ua, $ub, $d)", null,
                    ("$s", s.Scope), ("$a", s.CardA), ("$b", s.CardB), ("$act", s.Active), ("$t", s.Term), ("$e", string.Join(',', s.Enis)),
                    ("$k", s.Key), ("$sa", s.SyncA), ("$sb", s.SyncB), ("$ua", s.UnderlayA), ("$ub", s.UnderlayB), ("$d", DateTimeOffset.UtcNow.ToString("O")));
            }
            catch (SqliteException e) when (e.SqliteErrorCode == 19)
            {
                throw new InvalidOperationException($"an HA scope named '{s.Scope}' already exists", e);
            }
        }
    }

    /// <summary>Records a new holder and term; refused (false) unless the term grows — a stale writer never rolls it back.</summary>
    public bool MoveHaScope(string scope, string active, long term)
    {
        lock (_gate)
        {
            return Execute("UPDATE ha_scopes SET active = $a, term = $t, updated = $d WHERE scope = $s AND term < $t", null,
                ("$s", scope), ("$a", active), ("$t", term), ("$d", DateTimeOffset.UtcNow.ToString("O"))) == 1;
        }
    }

    public bool RemoveHaScopes(string cardA, string cardB)
    {
        lock (_gate)
        {
            return Execute("DELETE FROM ha_scopes WHERE (card_a = $a AND card_b = $b) OR (card_a = $b AND card_b = $a)", null, ("$a", cardA), ("$b", cardB)) > 0;
        }
    }

    public IReadOnlyList<HaScopeRecord> HaScopes()
    {
        lock (_gate)
        {
            using SqliteCommand cmd = Command("SELECT scope, card_a, card_b, active, term, enis, key, sync_a, sync_b, underlay_a, underlay_b FROM ha_scopes ORDER BY scope");
            using SqliteDataReader r = cmd.ExecuteReader();
            var list = new List<HaScopeRecord>();
            while (r.Read())
            {
                list.Add(new HaScopeRecord(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt64(4),
                    r.GetString(5).Split(',', StringSplitOptions.RemoveEmptyEntries), r.GetString(6), r.GetString(7), r.GetString(8), r.GetString(9), r.GetString(10)));
            }

            return list;
        }
    }
}
