using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.TestKit.Store;
using Xunit;
using Xunit.Abstractions;

namespace SnicRuntime.Tests.Host.Snicctl;

/// <summary>
/// The fleet from the CLI, as an operator runs it: HA sets, ENI placement, controllers; every
/// refusal a clear error with a non-zero exit and nothing changed; then three real <c>snicctl
/// serve</c> controllers on a real etcd cluster, the leader SIGKILLed.
/// </summary>
public sealed partial class SnicctlFleetTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snicctl-fleet-").FullName;
    private readonly List<Process> _processes = [];
    private EtcdCluster? _etcd;

    public void Dispose()
    {
        foreach (Process p in _processes.Where(p => !p.HasExited))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }

        _etcd?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private (int Code, string Out, string Err) Snicctl(params string[] args) => SnicctlProcess.Run([.. args, "--state", _dir]);

    /// <summary>Four cards in the inventory (agents need not run for placement) and the demo plan journaled, which names eni1..eni4.</summary>
    private void Inventory()
    {
        string token = Path.Combine(_dir, "token");
        File.WriteAllText(token, "t");
        foreach (string card in new[] { "ca", "cb", "cc", "cd" })
        {
            Assert.Equal(0, Snicctl("cards", "add", card, "--address", "http://127.0.0.1:9", "--token-file", token).Code);
        }

        Assert.Equal(4, Snicctl("apply", SnicctlProcess.Plan("demo.json")).Code); // journaled; no card up to take it
    }

    [Fact]
    public void Sets_and_placement_refuse_bad_requests_by_name_and_change_nothing()
    {
        Inventory();
        Assert.Equal(0, Snicctl("sets", "create", "s1", "--cards", "ca,cb").Code);
        Assert.Equal(0, Snicctl("sets", "create", "s2", "--cards", "cc,cd").Code);
        Refused(Snicctl("sets", "create", "s3", "--cards", "ca,cc"), "card 'ca' is already in set 's1'");
        Refused(Snicctl("sets", "create", "s4", "--cards", "ca,zz"), "no card named 'zz'");
        Refused(Snicctl("sets", "create", "s1", "--cards", "cc,cd"), "set 's1' already exists");
        Refused(Snicctl("sets", "create", "s5", "--cards", "ca"), "two different cards");

        Assert.Contains("placed on set 's1'", Snicctl("eni", "place", "eni1", "--set", "s1").Out, StringComparison.Ordinal);
        Refused(Snicctl("eni", "place", "eni1", "--set", "s2"), "ENI 'eni1' is already placed on set 's1'");
        Refused(Snicctl("eni", "place", "eni9"), "no ENI named 'eni9'");
        Refused(Snicctl("eni", "place", "eni2", "--set", "nope"), "no set named 'nope'");
        Refused(Snicctl("eni", "place", "bad/name"), "ENI name 'bad/name' is not valid");
        Assert.Contains("placed on set 's2'", Snicctl("eni", "place", "eni1", "--set", "s2", "--move").Out, StringComparison.Ordinal);
        // Spreading: the set with the fewest ENIs, ties by name.
        Assert.Contains("placed on set 's1'", Snicctl("eni", "place", "eni2").Out, StringComparison.Ordinal);
        Assert.Contains("placed on set 's1'", Snicctl("eni", "place", "eni3").Out, StringComparison.Ordinal);
        Assert.Contains("placed on set 's2'", Snicctl("eni", "place", "eni4").Out, StringComparison.Ordinal);

        using JsonDocument sets = JsonDocument.Parse(Snicctl("sets", "list", "--json").Out);
        Assert.Equal(["s1:ca,cb:eni2,eni3", "s2:cc,cd:eni1,eni4"], sets.RootElement.EnumerateArray().Select(s =>
            $"{s.GetProperty("name").GetString()}:{string.Join(',', s.GetProperty("cards").EnumerateArray().Select(c => c.GetString()))}:" +
            string.Join(',', s.GetProperty("enis").EnumerateArray().Select(c => c.GetString()))));
        using JsonDocument enis = JsonDocument.Parse(Snicctl("eni", "list", "--json").Out);
        Assert.Equal(4, enis.RootElement.GetArrayLength());
        Assert.Contains("enis:  eni2, eni3", Snicctl("sets", "show", "s1").Out, StringComparison.Ordinal);
        Refused(Snicctl("sets", "show", "s9"), "no set named 's9'");
        Assert.Contains("no controller leads", Snicctl("controllers").Out, StringComparison.Ordinal);
    }

    [Fact]
    public void A_card_added_on_one_host_is_known_on_another_through_the_store()
    {
        string store = Path.Combine(_dir, "fleet.db"), hostA = Path.Combine(_dir, "host-a"), hostB = Path.Combine(_dir, "host-b"), token = Path.Combine(_dir, "token");
        File.WriteAllText(token, "t");
        (int Code, string Out, string Err) On(string host, params string[] args) => SnicctlProcess.Run([.. args, "--state", host, "--store", store]);
        Assert.Equal(0, On(hostA, "cards", "add", "ca", "--address", "http://127.0.0.1:9", "--token-file", token).Code);

        // Host B: the same name is refused by name (the fleet's inventory holds it), nothing added locally.
        var twice = On(hostB, "cards", "add", "ca", "--address", "http://127.0.0.1:10", "--token-file", token);
        Assert.Equal(1, twice.Code);
        Assert.Contains("already in the fleet's inventory", twice.Err, StringComparison.Ordinal);
        Assert.Equal(0, On(hostB, "cards", "add", "cb", "--address", "http://127.0.0.1:11", "--token-file", token).Code);

        // Host B knows ca from the store: it lists it and may put it in a set.
        using (JsonDocument cards = JsonDocument.Parse(On(hostB, "cards", "list", "--json").Out))
        {
            Assert.Equal(["ca:http://127.0.0.1:9/", "cb:http://127.0.0.1:11/"], cards.RootElement.EnumerateArray().Select(c => c.GetProperty("name").GetString() + ":" + c.GetProperty("address").GetString()));
        }

        Assert.Equal(0, On(hostB, "sets", "create", "s1", "--cards", "ca,cb").Code);
        Refused(On(hostB, "sets", "create", "s2", "--cards", "cz,cy"), "no card named 'cz'");
        Assert.Equal(0, On(hostB, "cards", "remove", "ca").Code); // from the fleet's inventory
        Refused(On(hostB, "cards", "remove", "ca"), "no card named 'ca'");
    }

    [Fact]
    public void The_plan_journal_is_the_fleet_s_whoever_applies_and_any_host_reads_it()
    {
        string store = Path.Combine(_dir, "fleet.db"), hostA = Path.Combine(_dir, "host-a"), hostB = Path.Combine(_dir, "host-b");
        (int Code, string Out, string Err) On(string host, params string[] args) => SnicctlProcess.Run([.. args, "--state", host, "--store", store]);
        var first = On(hostA, "apply", SnicctlProcess.Plan("demo.json"));
        Assert.True(first.Code == 0, first.Out + first.Err);
        Assert.Contains("generation 1 journaled", first.Out, StringComparison.Ordinal);
        var second = On(hostB, "apply", SnicctlProcess.Plan("full.json")); // another host: the store numbers it
        Assert.True(second.Code == 0, second.Out + second.Err);
        Assert.Contains("generation 2 journaled", second.Out, StringComparison.Ordinal);

        using (JsonDocument journal = JsonDocument.Parse(On(hostA, "plans", "list", "--json").Out))
        {
            Assert.Equal([1L, 2L], journal.RootElement.EnumerateArray().Select(g => g.GetProperty("generation").GetInt64()));
            Assert.All(journal.RootElement.EnumerateArray(), g => Assert.Equal(64, g.GetProperty("sha256").GetString()!.Length));
        }

        var shown = On(hostA, "plans", "show", "2");
        Assert.True(shown.Code == 0, shown.Err);
        ChangePlan full = PlanJson.Parse(File.ReadAllText(SnicctlProcess.Plan("full.json")), out _)!;
        ChangePlan rebuilt = PlanJson.Parse(shown.Out, out PlanError? error) ?? throw new InvalidOperationException(error!.Value.Reason);
        Assert.Equal(2, rebuilt.Generation);
        Assert.Equal(full.Enis!.Select(e => e.Name).Order(), rebuilt.Enis!.Select(e => e.Name).Order());
        Assert.Contains("+ ", On(hostB, "plans", "diff", "1", "2").Out, StringComparison.Ordinal);
        Refused(On(hostB, "plans", "show", "9"), "no generation 9 in the journal (it holds 1..2)");
    }

    [Fact]
    public void A_store_that_cannot_be_reached_or_parsed_is_named_with_its_own_exit_code()
    {
        var down = Snicctl("sets", "list", "--store", "etcd://127.0.0.1:1");
        Assert.Equal(5, down.Code);
        Assert.Contains("etcd 127.0.0.1:1: no member answered", down.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", down.Err, StringComparison.Ordinal);

        var bad = Snicctl("sets", "list", "--store", "zk://127.0.0.1:1");
        Assert.Equal(2, bad.Code);
        Assert.Contains("unknown scheme", bad.Err, StringComparison.Ordinal);
        Assert.Equal(2, Snicctl("sets", "list", "--store", "etcd://nohost").Code);
    }

    [SkippableFact]
    public async Task Three_controllers_on_etcd_one_leads_and_a_SIGKILLed_leader_is_replaced_within_its_lease()
    {
        Skip.If(EtcdCluster.Unavailable is not null, EtcdCluster.Unavailable);
        _etcd = new EtcdCluster(3);
        string store = $"etcd://{_etcd.Endpoints}/fleet";
        var logs = new Dictionary<string, ConcurrentQueue<string>>();
        var serves = new Dictionary<string, Process>();
        foreach (string id in new[] { "ctl-1", "ctl-2", "ctl-3" })
        {
            logs[id] = new ConcurrentQueue<string>();
            serves[id] = SnicctlProcess.Start(logs[id], "serve", "--listen", "127.0.0.1:0", "--seconds", "90", "--controller-id", id, "--lease-ms", "3000", "--store", store, "--state", _dir);
            _processes.Add(serves[id]);
        }

        string leader = await LeaderOf(store, TimeSpan.FromSeconds(30));
        Assert.Contains(logs[leader], l => l.Contains($"controller '{leader}' leads", StringComparison.Ordinal));
        var started = Stopwatch.StartNew();
        while (true)
        {
            // Every controller announces itself (they start one after another on a busy machine).
            using JsonDocument all = JsonDocument.Parse(Snicctl("controllers", "--json", "--store", store).Out);
            Assert.Equal(store, all.RootElement.GetProperty("store").GetString());
            if (all.RootElement.GetProperty("controllers").GetArrayLength() == 3)
            {
                break;
            }

            Assert.True(started.Elapsed < TimeSpan.FromSeconds(90), "three controllers did not all announce themselves in 90 s\n" + Story(serves, logs));
            await Task.Delay(100);
        }

        var took = new List<double>();
        for (int kill = 0; kill < 2; kill++)
        {
            var timer = Stopwatch.StartNew();
            serves[leader].Kill(); // SIGKILL: no goodbye, the lease must lapse
            string old = leader;
            while (true)
            {
                string? next = serves.Keys.FirstOrDefault(id => id != old && !serves[id].HasExited
                    && logs[id].Any(l => l.Contains($"controller '{id}' leads", StringComparison.Ordinal)) && !logs[id].Last(l => l.Contains("lead", StringComparison.Ordinal)).Contains("no longer", StringComparison.Ordinal));
                if (next is not null && next != old)
                {
                    leader = next;
                    break;
                }

                Assert.True(timer.Elapsed < TimeSpan.FromSeconds(10), $"no controller took over from '{old}' in 10 s\n" + Story(serves, logs));
                await Task.Delay(10);
            }

            took.Add(timer.Elapsed.TotalMilliseconds);
            Assert.Equal(leader, await LeaderOf(store, TimeSpan.FromSeconds(5)));
        }

        output.WriteLine($"controller failover after SIGKILL: {string.Join(", ", took.Select(t => $"{t:0} ms"))}");
        // 3 s leases here, so that a CI machine stalling whole processes does not depose a live
        // leader; the 2 s target with the default 1 s lease is measured by bench/run.sh fleet.
        Assert.All(took, t => Assert.True(t <= 5000, $"takeover took {t:0} ms (lease 3 s)"));
    }

    /// <summary>What each controller said and whether it still runs: the failure message of a test on processes.</summary>
    private static string Story(Dictionary<string, Process> serves, Dictionary<string, ConcurrentQueue<string>> logs) =>
        string.Join('\n', serves.Select(s => $"--- {s.Key} ({(s.Value.HasExited ? $"exited {s.Value.ExitCode}" : "running")}):\n  "
            + string.Join("\n  ", logs[s.Key].TakeLast(15))));

    private async Task<string> LeaderOf(string store, TimeSpan wait)
    {
        var timer = Stopwatch.StartNew();
        while (true)
        {
            var r = Snicctl("controllers", "--json", "--store", store);
            if (r.Code == 0)
            {
                using JsonDocument doc = JsonDocument.Parse(r.Out);
                if (doc.RootElement.GetProperty("leader").GetString() is string id)
                {
                    return id;
                }
            }

            Assert.True(timer.Elapsed < wait, $"no leader in {wait.TotalSeconds} s: {r.Err}");
            await Task.Delay(100);
        }
    }

    private static void Refused((int Code, string Out, string Err) r, string reason)
    {
        Assert.Equal(1, r.Code);
        Assert.Contains(reason, r.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Err, StringComparison.Ordinal);
    }
}
