using SnicRuntime.Firmware.Card;
using SnicRuntime.TestKit;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using SnicRuntime.Firmware.Agent;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal.Board;
using Xunit;

namespace SnicRuntime.Tests.Host.Snicctl;

/// <summary>snicctl's management commands as a user runs them, against a real card agent on loopback.</summary>
public sealed class SnicctlManagementTests : IAsyncLifetime
{
    private const string Token = "snicctl-test-token-0123456";
    private readonly string _dir = Directory.CreateTempSubdirectory("snicctl-mgmt-").FullName;
    private Dataplane _dp = null!;
    private PolicyStore _store = null!;
    private CardAgent _agent = null!;

    public async Task InitializeAsync()
    {
        BoardDefinition board = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"));
        _store = new PolicyStore(board.Ports.Count);
        _dp = Dataplane.Create(board, new DataplaneOptions { Stage = StageKind.Policy, Policy = _store, FlowsPerWorker = 1024 });
        _agent = await CardAgent.StartAsync(_dp, _store, Token, new IPEndPoint(IPAddress.Loopback, 0));
        File.WriteAllText(Path.Combine(_dir, "token"), Token + "\n");
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        _dp.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private (int Code, string Out, string Err) Snicctl(params string[] args) => SnicctlProcess.Run([.. args, "--state", Path.Combine(_dir, "state")]);

    private static string Plan(string name) => SnicctlProcess.Plan(name);

    [Fact]
    public void Add_a_card_apply_a_plan_and_read_it_back()
    {
        var add = Snicctl("cards", "add", "card0", "--address", _agent.Address.ToString(), "--token-file", Path.Combine(_dir, "token"), "--board", "emulated");
        Assert.True(add.Code == 0, add.Err);
        Assert.Equal(1, Snicctl("cards", "add", "card0", "--address", _agent.Address.ToString(), "--token-file", Path.Combine(_dir, "token")).Code);

        var apply = Snicctl("apply", Plan("full.json"));
        Assert.True(apply.Code == 0, apply.Out + apply.Err);
        Assert.Contains("generation 1 journaled", apply.Out, StringComparison.Ordinal);
        Assert.Equal(1, _store.Current!.Generation);

        var bad = Snicctl("apply", Path.Combine(_dir, "token")); // not a plan
        Assert.Equal(1, bad.Code);
        Assert.Contains("nothing published", bad.Err, StringComparison.Ordinal);

        JsonElement cards = JsonDocument.Parse(Snicctl("cards", "list", "--json").Out).RootElement;
        Assert.Equal(1, cards[0].GetProperty("acked_generation").GetInt64());
        JsonElement plans = JsonDocument.Parse(Snicctl("plans", "list", "--json").Out).RootElement;
        Assert.Equal("acked", plans[0].GetProperty("cards").GetProperty("card0").GetString());
        Assert.Contains("\"generation\": 1", Snicctl("plans", "show", "1").Out, StringComparison.Ordinal);

        var show = Snicctl("cards", "show", "card0");
        Assert.True(show.Code == 0, show.Err);
        Assert.Contains("generation 1", show.Out, StringComparison.Ordinal);
        JsonElement flows = JsonDocument.Parse(Snicctl("flows", "card0", "--json", "--eni", "eni1").Out).RootElement;
        Assert.Equal(0, flows.GetProperty("flows").GetArrayLength());
        Assert.Contains("generation 1", Snicctl("stats", "card0").Out, StringComparison.Ordinal);

        string moved = Path.Combine(_dir, "moved.json");
        File.WriteAllText(moved, SnicRuntime.Tests.Firmware.Pipeline.PlanEdit.Edit("full.json", p => p["mappings"]![0]!["underlay_ip"] = "172.16.1.30"));
        Assert.Equal(0, Snicctl("apply", moved).Code);
        Assert.Equal(2, _store.Current!.Generation);
        var diff = Snicctl("plans", "diff", "1", "2");
        Assert.Equal("~ mappings vnet1/10.1.2.50", diff.Out.Trim());
        Assert.Equal(1, Snicctl("plans", "diff", "1", "7").Code);
    }

    [Fact]
    public void Stats_shows_efficiency_figures_and_watch_reads_every_interval()
    {
        Assert.Equal(0, Snicctl("cards", "add", "card0", "--address", _agent.Address.ToString(), "--token-file", Path.Combine(_dir, "token")).Code);
        Assert.Equal(0, Snicctl("apply", Plan("full.json")).Code);
        var once = Snicctl("stats", "card0");
        Assert.True(once.Code == 0, once.Err);
        Assert.Contains("cycles/pkt", once.Out, StringComparison.Ordinal);
        Assert.Contains("rx queue depth", once.Out, StringComparison.Ordinal);

        var watch = Snicctl("stats", "card0", "--watch", "--interval-ms", "200", "--count", "3", "--json");
        Assert.True(watch.Code == 0, watch.Err);
        string[] lines = watch.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.All(lines, l =>
        {
            JsonElement f = JsonDocument.Parse(l).RootElement;
            Assert.True(f.GetProperty("up").GetBoolean());
            Assert.Equal(1, f.GetProperty("generation").GetInt64());
            Assert.Equal(_dp.Workers.Count, f.GetProperty("workers").GetArrayLength());
        });

        var tables = Snicctl("stats", "card0", "--watch", "--interval-ms", "200", "--count", "2");
        Assert.Equal(2, tables.Out.Split("rx pps").Length - 1);
        Assert.Equal(2, Snicctl("stats", "card0", "--watch", "--count", "0").Code);
    }

    [Fact]
    public async Task Remove_a_card_and_serve_its_telemetry_while_it_is_there()
    {
        Assert.Equal(0, Snicctl("cards", "add", "card0", "--address", _agent.Address.ToString(), "--token-file", Path.Combine(_dir, "token")).Code);
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using (Process telemetry = SnicctlProcess.Start(output, "telemetry", "--listen", "127.0.0.1:0", "--interval-ms", "200", "--seconds", "20",
            "--state", Path.Combine(_dir, "state")))
        {
            try
            {
                var clock = Stopwatch.StartNew();
                string? url = null;
                while (url is null && clock.Elapsed < TimeSpan.FromSeconds(30))
                {
                    url = output.FirstOrDefault(l => l.StartsWith("serving ", StringComparison.Ordinal))?.Split(' ')[1].TrimEnd(';');
                    await Task.Delay(50);
                }

                Assert.True(url is not null, string.Join('\n', output));
                using var http = new HttpClient();
                string text = "";
                while (!text.Contains("snic_card_up{card=\"card0\"} 1", StringComparison.Ordinal) && clock.Elapsed < TimeSpan.FromSeconds(30))
                {
                    await Task.Delay(100);
                    text = await http.GetStringAsync(new Uri(url));
                }

                Assert.Contains("snic_card_up{card=\"card0\"} 1", text, StringComparison.Ordinal);
            }
            finally
            {
                telemetry.Kill();
                await telemetry.WaitForExitAsync();
            }
        }

        Assert.Equal(2, Snicctl("telemetry", "--listen", "not-an-endpoint").Code);
        Assert.Equal(2, Snicctl("serve", "--otlp", "ftp://collector").Code);
        Assert.Equal(0, Snicctl("cards", "remove", "card0").Code);
        var again = Snicctl("cards", "remove", "card0");
        Assert.Equal(1, again.Code);
        Assert.Contains("card0", again.Err, StringComparison.Ordinal);
        Assert.Equal(1, Snicctl("plans", "show", "42").Code);
    }

    [Fact]
    public void Unknown_and_unreachable_cards_are_named_with_their_own_exit_codes()
    {
        var unknown = Snicctl("flows", "nope");
        Assert.Equal(1, unknown.Code);
        Assert.Contains("no card named 'nope'", unknown.Err, StringComparison.Ordinal);

        Assert.Equal(0, Snicctl("cards", "add", "gone", "--address", "http://127.0.0.1:1/", "--token-file", Path.Combine(_dir, "token")).Code);
        var down = Snicctl("stats", "gone");
        Assert.Equal(4, down.Code);
        Assert.Contains("card 'gone'", down.Err, StringComparison.Ordinal);
        var apply = Snicctl("apply", Plan("full.json"));
        Assert.Equal(4, apply.Code);
        Assert.Contains("gone: unreachable", apply.Out, StringComparison.Ordinal);
        Assert.Equal(2, Snicctl("cards", "add", "x", "--address", "ftp://h", "--token-file", Path.Combine(_dir, "token")).Code);
    }

    [Fact]
    public void Https_cards_need_enrollment_and_enrollment_writes_what_the_card_starts_with()
    {
        var early = Snicctl("cards", "add", "tls0", "--address", "https://127.0.0.1:9/");
        Assert.Equal(2, early.Code);
        Assert.Contains("cards enroll", early.Err, StringComparison.Ordinal);

        string pki = Path.Combine(_dir, "tls0");
        var enroll = Snicctl("cards", "enroll", "tls0", "--out", pki);
        Assert.True(enroll.Code == 0, enroll.Err);
        var card = SnicRuntime.Contracts.Agent.AgentCertificates.Load(Path.Combine(pki, "card.pem"));
        var authority = SnicRuntime.Contracts.Agent.AgentCertificates.Load(Path.Combine(pki, "ca.pem"));
        Assert.True(card.HasPrivateKey);
        Assert.False(authority.HasPrivateKey); // the card gets the authority's certificate, never its key
        Assert.True(SnicRuntime.Contracts.Agent.AgentCertificates.ChainsTo(card, authority));
        Assert.Equal(0, Snicctl("cards", "add", "tls0", "--address", "https://127.0.0.1:9/").Code);
    }
}
