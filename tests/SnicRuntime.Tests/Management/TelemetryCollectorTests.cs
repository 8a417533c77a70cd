using System.Net;
using SnicRuntime.Firmware.Agent;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Board;
using SnicRuntime.Management;
using SnicRuntime.Tests.Pipeline;
using Xunit;

namespace SnicRuntime.Tests.Management;

/// <summary>The management plane's telemetry: collected from a real card agent, derived, served as Prometheus text.</summary>
public sealed class TelemetryCollectorTests : IAsyncLifetime
{
    private const string Token = "telemetry-test-token-01234";
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-telemetry-").FullName;
    private Dataplane _dp = null!;
    private CardAgent _agent = null!;
    private ManagementStore _state = null!;

    public async Task InitializeAsync()
    {
        BoardDefinition board = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"));
        var store = new PolicyStore(board.Ports.Count);
        Assert.True(store.Apply(PipelineHarness.PlanText("full.json")).Accepted);
        _dp = Dataplane.Create(board, new DataplaneOptions { Stage = StageKind.Policy, Policy = store, FlowsPerWorker = 1024 });
        _agent = await CardAgent.StartAsync(_dp, store, Token, new IPEndPoint(IPAddress.Loopback, 0));
        _state = new ManagementStore(Path.Combine(_dir, "state.db"));
        _state.AddCard(new Card("card0", _agent.Address, Token, "emulated", "standalone", DateTimeOffset.UtcNow));
        _state.AddCard(new Card("gone", new Uri("http://127.0.0.1:1/"), Token, null, "standalone", DateTimeOffset.UtcNow));
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        _dp.Dispose();
        _state.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private void Send(int packets, string vip = "172.16.1.100")
    {
        var burst = new PacketRef[packets];
        Assert.Equal(packets, _dp.Pool.AllocBulk(burst));
        for (int i = 0; i < packets; i++)
        {
            byte[] f = Overlay.FromVm("10.1.2.50", sport: (ushort)(3000 + i), vip: vip);
            burst[i].SetLength(f.Length);
            f.CopyTo(burst[i].Data);
        }

        _dp.EmulatedPort(0).Inject(burst);
        foreach (IWorker w in _dp.Workers)
        {
            w.PollOnce();
        }

        Span<PacketRef> drained = new PacketRef[64];
        int n;
        while ((n = _dp.EmulatedPort(0).Drain(drained)) > 0)
        {
            _dp.Pool.FreeBulk(drained[..n]);
        }
    }

    [Fact]
    public async Task Rates_and_drop_ratios_are_derived_between_collections_and_served_as_prometheus_text()
    {
        var collector = new TelemetryCollector(_state);
        await collector.Collect();
        Send(24);
        Send(8, vip: "172.16.1.99"); // dropped NotToVip
        await Task.Delay(50);
        await collector.Collect();

        TelemetryCollector.CardFigures card = collector.Latest.Single(f => f.Card == "card0");
        Assert.True(card.Up);
        Assert.Equal(1, card.Generation);
        Assert.True(card.RxPpsByWorker.Values.Sum() > 0);
        Assert.Equal(0.25, card.DropRatio, 3);
        Assert.Equal(8, card.DropsByReason["NotToVip"]);
        TelemetryCollector.CardFigures gone = collector.Latest.Single(f => f.Card == "gone");
        Assert.False(gone.Up);
        Assert.Contains("card 'gone'", gone.Problem, StringComparison.Ordinal);

        await using TelemetryEndpoint endpoint = await TelemetryEndpoint.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), collector);
        using var http = new HttpClient();
        string text = await http.GetStringAsync(new Uri(endpoint.Address, "/metrics"));
        Assert.Contains("snic_card_up{card=\"card0\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("snic_card_up{card=\"gone\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("snic_card_drop_ratio{card=\"card0\"} 0.25", text, StringComparison.Ordinal);
        Assert.Contains("snic_card_drops_total{card=\"card0\",reason=\"NotToVip\"} 8", text, StringComparison.Ordinal);
        Assert.All(text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')),
            l => Assert.Matches(@"^[a-z_]+\{[a-z_]+=""[^""]*""(,[a-z_]+=""[^""]*"")*\} [0-9.eE+-]+$", l));
    }
}
