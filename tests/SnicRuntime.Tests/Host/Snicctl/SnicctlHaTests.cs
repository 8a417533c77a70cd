using SnicRuntime.TestKit;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Xunit;

namespace SnicRuntime.Tests.Host.Snicctl;

/// <summary>
/// HA as a user runs it: two firmware processes with agents and HA state directories, paired by
/// <c>snicctl ha pair</c>, watched by <c>snicctl serve</c> (the witness); the active is killed
/// with SIGKILL; the witness grants the standby the next term and it takes over; the killed card
/// restarts, rejoins from its state directory and, fenced by the newer term, comes back as standby.
/// </summary>
[Collection("processes")]
public sealed class SnicctlHaTests : IDisposable
{
    private const string Token = "snicctl-ha-test-token-012345";
    private readonly string _dir = Directory.CreateTempSubdirectory("snicctl-ha-").FullName;
    private readonly List<Process> _processes = [];

    public void Dispose()
    {
        foreach (Process p in _processes.Where(p => !p.HasExited))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(10_000);
        }

        Directory.Delete(_dir, recursive: true);
    }

    private string[] Args(params string[] args) => [.. args, "--state", Path.Combine(_dir, "state")];

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private Process StartCard(string name, int agentPort, ConcurrentQueue<string> log)
    {
        string dll = Path.Combine(TestPaths.RepoRoot, "firmware", "bin", "Release", "net9.0", "snic-firmware.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.RepoRoot };
        foreach (string a in new[] { dll, "--board", Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"), "--plan", TestPaths.Plan("demo.json"),
            "--agent", agentPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--agent-token-file", Path.Combine(_dir, "token"),
            "--ha-state", Path.Combine(_dir, name), "--seconds", "60", "--workers", "1", "--flows", "2000", "--rate", "20000" })
        {
            psi.ArgumentList.Add(a);
        }

        Process p = LoggedProcess.Start(psi, log, $"{name}: ");
        _processes.Add(p);
        return p;
    }

    private JsonElement Show() => JsonDocument.Parse(SnicctlProcess.Run(Args("ha", "show", "--json")).Out).RootElement;

    private static string? StateOf(JsonElement show, string card) =>
        show.GetProperty("cards").TryGetProperty(card, out JsonElement c) && c.TryGetProperty("scopes", out JsonElement s) && s.GetArrayLength() > 0
            ? s[0].GetProperty("state").GetString() : null;

    private static string? StateOf(JsonElement show, string card, string scope) =>
        show.GetProperty("cards").TryGetProperty(card, out JsonElement c) && c.TryGetProperty("scopes", out JsonElement s)
            ? s.EnumerateArray().Where(x => x.GetProperty("name").GetString() == scope).Select(x => x.GetProperty("state").GetString()).FirstOrDefault() : null;

    private static void Until(Func<bool> done, TimeSpan timeout, string what, ConcurrentQueue<string> log)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            Assert.True(clock.Elapsed < timeout, $"{what} within {timeout.TotalSeconds} s; log:\n{string.Join('\n', log.TakeLast(60))}");
            Thread.Sleep(100);
        }
    }

    [Fact]
    public void Pair_kill_the_active_the_witness_hands_the_scope_over_and_the_restarted_card_rejoins_as_standby()
    {
        File.WriteAllText(Path.Combine(_dir, "token"), Token);
        var log = new ConcurrentQueue<string>();
        int portA = FreePort(), portB = FreePort();
        Process a = StartCard("card-a", portA, log);
        StartCard("card-b", portB, log);
        string token = Path.Combine(_dir, "token");
        Until(() => SnicctlProcess.Run(Args("cards", "add", "card-a", "--address", $"http://127.0.0.1:{portA}/", "--token-file", token)).Code == 0
            || SnicctlProcess.Run(Args("cards", "list")).Out.Contains("card-a", StringComparison.Ordinal), TimeSpan.FromSeconds(5), "add card-a", log);
        Assert.Equal(0, SnicctlProcess.Run(Args("cards", "add", "card-b", "--address", $"http://127.0.0.1:{portB}/", "--token-file", token)).Code);

        // Bad pairing requests are refused with the reason, before anything is recorded.
        var bad = SnicctlProcess.Run(Args("ha", "pair", "card-a", "card-a", "--scope", "s=eni1", "--sync-a", "127.0.0.1:1", "--sync-b", "127.0.0.1:2"));
        Assert.Equal(1, bad.Code);
        Assert.Contains("cannot be paired with itself", bad.Err, StringComparison.Ordinal);
        bad = SnicctlProcess.Run(Args("ha", "pair", "card-a", "card-b", "--scope", "s=eni1@card-c", "--scope", "t=eni1", "--sync-a", "127.0.0.1:1", "--sync-b", "127.0.0.1:2"));
        Assert.Equal(1, bad.Code);
        Assert.Contains("HA scope 's' is to start active on 'card-c', which is neither 'card-a' nor 'card-b'", bad.Err, StringComparison.Ordinal);
        Assert.Contains("ENI 'eni1' is in more than one scope (s, t)", bad.Err, StringComparison.Ordinal);
        Assert.Equal(2, SnicctlProcess.Run(Args("ha", "pair", "card-a", "card-b", "--scope", "s=eni1@", "--sync-a", "127.0.0.1:1", "--sync-b", "127.0.0.1:2")).Code);

        int syncA = FreePort(), syncB = FreePort();
        (int Code, string Out, string Err) pair = default;
        // Each card starts active for one scope and standby for the other.
        Until(() => (pair = SnicctlProcess.Run(Args("ha", "pair", "card-a", "card-b", "--scope", "vms=eni1,eni2,eni3", "--scope", "web=eni4@card-b",
            "--sync-a", $"127.0.0.1:{syncA}", "--sync-b", $"127.0.0.1:{syncB}"))).Code != 4, TimeSpan.FromSeconds(60), "the agents answer", log);
        Assert.True(pair.Code == 0, pair.Out + pair.Err);
        Until(() => StateOf(Show(), "card-a") == "Active" && StateOf(Show(), "card-b") == "Standby", TimeSpan.FromSeconds(20), "A active, B standby", log);
        Until(() => StateOf(Show(), "card-a", "web") == "Standby" && StateOf(Show(), "card-b", "web") == "Active", TimeSpan.FromSeconds(20), "web: B active, A standby", log);

        var serveLog = new ConcurrentQueue<string>();
        Process serve = SnicctlProcess.Start(serveLog, Args("serve", "--listen", "127.0.0.1:0", "--seconds", "120"));
        _processes.Add(serve);
        // Replication runs: the standby receives flow records.
        Until(() => Show().GetProperty("cards").GetProperty("card-b").GetProperty("records_received").GetInt64() > 100, TimeSpan.FromSeconds(20), "flows replicated", log);

        // Sync lag and peer liveness are telemetry too: the card's counters and serve's Prometheus text.
        JsonElement counters = JsonDocument.Parse(SnicctlProcess.Run(Args("stats", "card-a", "--json")).Out).RootElement;
        Assert.True(counters.GetProperty("ha_sync_lag").GetInt64() >= 0);
        Assert.True(counters.GetProperty("ha_peer_up").GetBoolean());
        Until(() => serveLog.Any(l => l.StartsWith("serving ", StringComparison.Ordinal)), TimeSpan.FromSeconds(30), "serve starts", serveLog);
        string metricsUrl = serveLog.First(l => l.StartsWith("serving ", StringComparison.Ordinal)).Split(' ')[1].TrimEnd(';');
        using (var http = new HttpClient())
        {
            string metrics = "";
            Until(() => (metrics = http.GetStringAsync(new Uri(metricsUrl)).GetAwaiter().GetResult()).Contains("snic_card_ha_peer_up{card=\"card-b\"} 1", StringComparison.Ordinal),
                TimeSpan.FromSeconds(10), "HA figures in serve's Prometheus text", serveLog);
            Assert.Contains("snic_card_ha_sync_lag_records{card=\"card-a\"}", metrics, StringComparison.Ordinal);
        }

        a.Kill(); // SIGKILL
        var killed = Stopwatch.StartNew();
        Until(() => serveLog.Any(l => l.Contains("'card-b' takes over with term 2", StringComparison.Ordinal)), TimeSpan.FromSeconds(20), "the witness grants term 2", serveLog);
        Until(() => StateOf(Show(), "card-b") == "Standalone", TimeSpan.FromSeconds(10), "B standalone", log);
        TimeSpan takeover = killed.Elapsed;
        JsonElement after = Show();
        Assert.Equal("card-b", after.GetProperty("scopes")[0].GetProperty("active").GetString());
        Assert.Equal(2, after.GetProperty("scopes")[0].GetProperty("term").GetInt64());
        Assert.True(takeover < TimeSpan.FromSeconds(10), $"takeover took {takeover}");

        // The killed card restarts with its state directory: it rejoins, sees term 2 and stays out of the way.
        StartCard("card-a", portA, log);
        Until(() => StateOf(Show(), "card-a") == "Standby" && StateOf(Show(), "card-b") == "Active", TimeSpan.FromSeconds(60), "A back as standby, B active", log);
        Assert.Contains(log, l => l.Contains("rejoined HA pairing", StringComparison.Ordinal));

        // Planned switchover hands the scope back (term 3), named by one of its ENIs.
        var unknown = SnicctlProcess.Run(Args("ha", "switchover", "no-such-scope"));
        Assert.Equal(1, unknown.Code);
        Assert.Contains("no HA scope and no ENI", unknown.Err, StringComparison.Ordinal);
        var sw = SnicctlProcess.Run(Args("ha", "switchover", "eni2"));
        Assert.True(sw.Code == 0, sw.Out + sw.Err);
        // As generous as the rejoin above: on a loaded 2-core CI machine both cards once went
        // quiet for 16 s (their own per-second lines stopped) while the handover was due.
        Until(() => StateOf(Show(), "card-a") == "Active" && StateOf(Show(), "card-b") == "Standby", TimeSpan.FromSeconds(60), "switched back", log);
        Assert.Equal(3, Show().GetProperty("scopes")[0].GetProperty("term").GetInt64());
        Assert.Equal(0, SnicctlProcess.Run(Args("ha", "unpair", "card-a", "card-b")).Code);
        Assert.Equal("no HA scopes (snicctl ha pair A B --scope NAME=ENI ...)", SnicctlProcess.Run(Args("ha", "show")).Out.Trim());
    }
}
