using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.TestKit;
using SnicRuntime.TestKit.Store;
using Xunit;

namespace SnicRuntime.Tests.Host.Snicctl;

/// <summary>The fleet losing its store's quorum, end to end: real etcd, a real controller, real card processes forwarding.</summary>
public sealed partial class SnicctlFleetTests
{
    private const string CardToken = "fleet-quorum-token-0123456789";

    private Process StartFirmware(string name, int agentPort, ConcurrentQueue<string> log)
    {
        string dll = Path.Combine(TestPaths.RepoRoot, "firmware", "bin", "Release", "net9.0", "snic-firmware.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.RepoRoot };
        foreach (string a in new[] { dll, "--board", Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"), "--agent", $"{agentPort}",
            "--agent-token-file", Path.Combine(_dir, "card-token"), "--plan-wait", "120", "--seconds", "150", "--workers", "1", "--flows", "200", "--rate", "2000" })
        {
            psi.ArgumentList.Add(a);
        }

        Process p = LoggedProcess.Start(psi, log, $"{name}: ");
        _processes.Add(p);
        return p;
    }

    private static async Task<JsonElement?> Agent(HttpClient http, int port, string path)
    {
        try
        {
            return JsonDocument.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}{path}"))).RootElement.Clone();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            return null;
        }
    }

    private static async Task<long> Forwarded(HttpClient http, int port) =>
        (await Agent(http, port, "/v1/counters"))?.GetProperty("workers").EnumerateArray().Sum(w => w.GetProperty("tx_packets").GetInt64()) ?? -1;

    [SkippableFact]
    public async Task A_store_without_quorum_refuses_changes_by_name_while_cards_forward_and_all_converges_when_it_returns()
    {
        Skip.If(EtcdCluster.Unavailable is not null, EtcdCluster.Unavailable);
        _etcd = new EtcdCluster(3);
        string store = $"etcd://{_etcd.Endpoints}/fleet";
        File.WriteAllText(Path.Combine(_dir, "card-token"), CardToken);
        var log = new ConcurrentQueue<string>();
        int[] ports = LoopbackPorts.Free(2);
        StartFirmware("ca", ports[0], log);
        StartFirmware("cb", ports[1], log);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(0, Snicctl("cards", "add", i == 0 ? "ca" : "cb", "--address", $"http://127.0.0.1:{ports[i]}", "--token-file", Path.Combine(_dir, "card-token")).Code);
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", CardToken);
        async Task<long[]> Generations() => [.. await Task.WhenAll(ports.Select(async p => (await Agent(http, p, "/v1/plan"))?.GetProperty("generation").GetInt64() ?? 0))];
        await UntilAsync(async () => (await Task.WhenAll(ports.Select(p => Agent(http, p, "/v1/plan")))).All(r => r is not null), TimeSpan.FromSeconds(60), "both agents answer", log);

        // The whole plan first (the cards are in no set yet), then a set holding both ENIs: the
        // controller brings each card its share.
        var applied = Snicctl("apply", SnicctlProcess.Plan("demo.json"), "--store", store);
        Assert.True(applied.Code == 0, applied.Err);
        long[] whole = await Generations();
        Assert.Equal(0, Snicctl("sets", "create", "s1", "--cards", "ca,cb", "--store", store).Code);
        foreach (string eni in new[] { "eni1", "eni2" })
        {
            Assert.Equal(0, Snicctl("eni", "place", eni, "--set", "s1", "--store", store).Code);
        }

        Process serve = SnicctlProcess.Start(log, "serve", "--listen", "127.0.0.1:0", "--seconds", "150", "--controller-id", "ctl-q", "--lease-ms", "3000",
            "--store", store, "--state", _dir);
        _processes.Add(serve);
        await UntilAsync(async () => (await Generations()).Zip(whole).All(x => x.First > x.Second), TimeSpan.FromSeconds(60), "both cards run their set's share", log);
        await UntilAsync(async () => (await Task.WhenAll(ports.Select(p => Forwarded(http, p)))).All(n => n > 0), TimeSpan.FromSeconds(30), "both cards forward", log);
        long[] before = await Generations();
        var journalBefore = Snicctl("plans", "list", "--json", "--store", store);
        Assert.True(journalBefore.Code == 0, journalBefore.Err);
        Assert.Single(JsonDocument.Parse(journalBefore.Out).RootElement.EnumerateArray());

        // Quorum lost: two of three members SIGKILLed.
        _etcd.Kill(0);
        _etcd.Kill(1);
        var list = Snicctl("sets", "list", "--store", store);
        Assert.Equal(5, list.Code);
        Assert.Contains("quorum", list.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", list.Err, StringComparison.Ordinal);

        ChangePlan changed = PlanJson.Parse(File.ReadAllText(SnicctlProcess.Plan("demo.json")), out _)!;
        changed.Enis!.First(e => e.Name == "eni1").AdminState = "down";
        string changedPath = Path.Combine(_dir, "changed.json");
        File.WriteAllText(changedPath, PlanJson.Write(changed));
        var refused = Snicctl("apply", changedPath, "--store", store);
        Assert.Equal(5, refused.Code);
        Assert.Contains("quorum", refused.Err, StringComparison.Ordinal);
        Assert.Equal(5, Snicctl("plans", "list", "--store", store).Code); // the journal is in the store: unreadable too, and said so
        Assert.Equal(before, await Generations()); // nothing reached a card

        // The cards forward on what they have.
        long[] forwarding = await Task.WhenAll(ports.Select(p => Forwarded(http, p)));
        await Task.Delay(1500);
        long[] later = await Task.WhenAll(ports.Select(p => Forwarded(http, p)));
        Assert.True(later.Zip(forwarding).All(x => x.First > x.Second), $"cards stopped forwarding without quorum: {string.Join(",", forwarding)} -> {string.Join(",", later)}");

        // Quorum back: the same change goes through and both cards run it.
        _etcd.Restart(0);
        _etcd.Restart(1);
        _etcd.WaitHealthy(3, TimeSpan.FromSeconds(60));
        Assert.Equal(journalBefore.Out, Snicctl("plans", "list", "--json", "--store", store).Out); // the refused apply journaled nothing
        var accepted = Snicctl("apply", changedPath, "--store", store);
        Assert.True(accepted.Code == 0, $"apply after quorum returned: exit {accepted.Code}: {accepted.Err}");
        await UntilAsync(async () => (await Generations()).Zip(before).All(x => x.First > x.Second), TimeSpan.FromSeconds(30), "both cards run the change", log);
        Assert.False(serve.HasExited, "the controller exited while the store had no quorum:\n" + string.Join('\n', log.TakeLast(30)));
    }

    private static async Task UntilAsync(Func<Task<bool>> done, TimeSpan timeout, string what, ConcurrentQueue<string> log)
    {
        for (var clock = Stopwatch.StartNew(); !await done(); await Task.Delay(100))
        {
            Assert.True(clock.Elapsed < timeout, $"{what} within {timeout.TotalSeconds} s; log:\n{string.Join('\n', log.Where(l => !l.Contains("round:", StringComparison.Ordinal) && !l.Contains("unreachable", StringComparison.Ordinal)).TakeLast(60))}");
        }
    }
}
