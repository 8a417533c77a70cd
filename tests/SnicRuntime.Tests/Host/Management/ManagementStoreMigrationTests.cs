using Microsoft.Data.Sqlite;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;
using SnicRuntime.TestKit;
using SnicRuntime.Tests.Firmware.Pipeline;
using Xunit;

namespace SnicRuntime.Tests.Host.Management;

/// <summary>
/// A state directory from before the journal moved into the store (schema 2, as the previous
/// snicctl wrote it): opened, its deliveries kept, and its journal adopted into the store with
/// the same generation numbers, once.
/// </summary>
public sealed class ManagementStoreMigrationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-migrate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Plan(string file, long generation) => PlanEdit.Edit(file, p => p["generation"] = generation);

    private static SortedSet<string> Objects(string json) => Objects(PlanJson.Parse(json, out _)!);

    private static SortedSet<string> Objects(ChangePlan plan) =>
        [.. PlanObjects.Split(plan).Select(o => o.Key + "=" + System.Text.Encoding.UTF8.GetString(o.Value))];

    private void WriteSchema2(string path, params (long Generation, string Json)[] plans)
    {
        using var db = new SqliteConnection($"Data Source={path};Pooling=False");
        db.Open();
        using SqliteCommand create = db.CreateCommand();
        // Schema 2 as ManagementStore created it (v1 tables, then the HA scopes).
        create.CommandText = """
            CREATE TABLE cards (name TEXT PRIMARY KEY, address TEXT NOT NULL, token TEXT NOT NULL, board TEXT, role TEXT NOT NULL, added TEXT NOT NULL);
            CREATE TABLE plans (generation INTEGER PRIMARY KEY, json TEXT NOT NULL, sha256 TEXT NOT NULL, created TEXT NOT NULL);
            CREATE TABLE deliveries (card TEXT NOT NULL REFERENCES cards(name) ON DELETE CASCADE, generation INTEGER NOT NULL REFERENCES plans(generation),
                state TEXT NOT NULL, detail TEXT NOT NULL, updated TEXT NOT NULL, PRIMARY KEY (card, generation));
            CREATE TABLE ha_scopes (scope TEXT PRIMARY KEY, card_a TEXT NOT NULL, card_b TEXT NOT NULL, active TEXT NOT NULL, term INTEGER NOT NULL,
                enis TEXT NOT NULL, key TEXT NOT NULL, sync_a TEXT NOT NULL, sync_b TEXT NOT NULL, underlay_a TEXT NOT NULL, underlay_b TEXT NOT NULL,
                updated TEXT NOT NULL);
            INSERT INTO cards VALUES ('card0', 'http://127.0.0.1:1/', 'token-0123456789', 'emulated', 'standalone', '2026-01-01T00:00:00+00:00');
            PRAGMA user_version = 2;
            """;
        create.ExecuteNonQuery();
        foreach ((long g, string json) in plans)
        {
            using SqliteCommand insert = db.CreateCommand();
            insert.CommandText = "INSERT INTO plans VALUES ($g, $j, $s, '2026-01-01T00:00:00+00:00'); INSERT INTO deliveries VALUES ('card0', $g, 'acked', '', '2026-01-01T00:00:00+00:00');";
            insert.Parameters.AddWithValue("$g", g);
            insert.Parameters.AddWithValue("$j", json);
            insert.Parameters.AddWithValue("$s", "sha-of-" + g);
            insert.ExecuteNonQuery();
        }
    }

    [Fact]
    public async Task A_schema_2_journal_is_adopted_into_the_store_with_its_generations_and_its_deliveries_stay()
    {
        string path = Path.Combine(_dir, "state.db");
        string first = Plan("full.json", 1), second = Plan("demo.json", 2);
        WriteSchema2(path, (1, first), (2, second));

        using var state = new ManagementStore(path);
        Assert.Equal([1L, 2], state.LegacyPlans().Select(p => p.Generation));
        Assert.Equal(2, state.Deliveries().Count(d => d.Card == "card0" && d.State == "acked"));
        Assert.Equal(2, state.AckedGeneration("card0"));

        await using var store = new SqliteStateStore(Path.Combine(_dir, "fleet.db"));
        var delivery = new PlanDelivery(state, store);
        Assert.Equal(2, await delivery.AdoptLegacy());
        Assert.Empty(state.LegacyPlans());
        Assert.Equal(0, await delivery.AdoptLegacy()); // once

        var journal = new PlanJournal(store);
        IReadOnlyList<JournalRecord> generations = await journal.Generations();
        Assert.Equal([1L, 2], generations.Select(g => g.Generation));
        Assert.Equal(["sha-of-1", "sha-of-2"], generations.Select(g => g.Sha256));
        Assert.Equal(Objects(first), Objects(await journal.Plan(1))); // the same objects (rebuilt in key order)
        Assert.Equal(Objects(second), Objects(await journal.Plan(2)));
        Assert.Equal(2, await journal.Latest());

        // A delivery recorded for a generation the store numbered (no local plans row now).
        state.Record("card0", 3, "acked", "");
        Assert.Equal(3, state.AckedGeneration("card0"));
    }

    [Fact]
    public async Task A_store_that_already_has_a_journal_keeps_it_and_this_host_s_old_one_stays_local()
    {
        string path = Path.Combine(_dir, "state.db");
        WriteSchema2(path, (1, Plan("demo.json", 1)));
        using var state = new ManagementStore(path);
        await using var store = new SqliteStateStore(Path.Combine(_dir, "fleet.db"));
        await new DesiredPlan(store).Publish(PlanEdit.Edit("full.json", p => p["generation"] = 5));

        Assert.Equal(0, await new PlanDelivery(state, store).AdoptLegacy());
        Assert.Single(state.LegacyPlans());
        Assert.Equal([5L], (await new PlanJournal(store).Generations()).Select(g => g.Generation));
    }
}
