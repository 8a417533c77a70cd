using SnicRuntime.Firmware.Card;
using SnicRuntime.TestKit;
using System.Net;
using SnicRuntime.Firmware.Agent;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal.Board;
using SnicRuntime.Management;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;
using SnicRuntime.Tests.Firmware.Pipeline;
using Xunit;

namespace SnicRuntime.Tests.Host.Management;

/// <summary>
/// The journal and delivery against real card agents (each a dataplane with its own policy store,
/// serving HTTP on loopback): apply, refusal before journaling, a card that is down, a card that
/// restarts with nothing and is brought back by the reconciler.
/// </summary>
public sealed class PlanDeliveryTests : IAsyncLifetime
{
    private const string Token = "management-test-token-0123";
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-mgmt-").FullName;
    private readonly List<(Dataplane Dp, PolicyStore Store, CardAgent Agent)> _cards = [];
    private ManagementStore _state = null!;
    private SqliteStateStore _desired = null!;

    public async Task InitializeAsync()
    {
        _state = new ManagementStore(Path.Combine(_dir, "state.db"));
        _desired = new SqliteStateStore(Path.Combine(_dir, "fleet.db"));
        for (int i = 0; i < 2; i++)
        {
            var card = await StartCard(port: 0);
            _cards.Add(card);
            _state.AddCard(new Card($"card{i}", card.Agent.Address, Token, "emulated", "standalone", DateTimeOffset.UtcNow));
        }
    }

    private static async Task<(Dataplane Dp, PolicyStore Store, CardAgent Agent)> StartCard(int port)
    {
        BoardDefinition board = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"));
        var store = new PolicyStore(board.Ports.Count);
        Dataplane dp = Dataplane.Create(board, new DataplaneOptions { Stage = StageKind.Policy, Policy = store, FlowsPerWorker = 1024 });
        CardAgent agent = await CardAgent.StartAsync(dp, store, Token, new IPEndPoint(IPAddress.Loopback, port));
        return (dp, store, agent);
    }

    private async Task StopCard(int i)
    {
        await _cards[i].Agent.DisposeAsync();
        _cards[i].Dp.Dispose();
    }

    public async Task DisposeAsync()
    {
        for (int i = 0; i < _cards.Count; i++)
        {
            await StopCard(i);
        }

        _state.Dispose();
        await _desired.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Apply_journals_the_next_generation_and_every_card_acknowledges_it()
    {
        var delivery = new PlanDelivery(_state, _desired);
        ApplyOutcome first = await delivery.Apply(PipelineHarness.PlanText("full.json"));
        Assert.Equal(1, first.Generation);
        Assert.All(first.Cards, c => Assert.Equal("acked", c.State));
        Assert.All(_cards, c => Assert.Equal(1, c.Store.Current!.Generation));

        // The plan's own generation number does not matter: the store's journal numbers plans.
        ApplyOutcome second = await delivery.Apply(PlanEdit.Edit("full.json", p => p["generation"] = 77));
        Assert.Equal(2, second.Generation);
        Assert.All(_cards, c => Assert.Equal(2, c.Store.Current!.Generation));
        Assert.Equal([1L, 2L], (await new PlanJournal(_desired).Generations()).Select(g => g.Generation));
        Assert.Equal(4, _state.Deliveries().Count(d => d.State == "acked"));

        // Reconciling when everyone is current sends nothing.
        Assert.Empty(await delivery.Reconcile());
    }

    [Fact]
    public async Task A_plan_with_errors_is_refused_before_anything_is_journaled()
    {
        ApplyOutcome bad = await new PlanDelivery(_state, _desired).Apply(PlanEdit.Edit("full.json", p => p["enis"]![0]!["vnet"] = "nope"));
        Assert.False(bad.Journaled);
        Assert.Contains(bad.Errors, e => e.Path == "$.enis[0].vnet");
        Assert.Empty(await new PlanJournal(_desired).Generations());
        Assert.Null(await _desired.Get(FleetKeys.Plan));
        Assert.All(_cards, c => Assert.Null(c.Store.Current));
    }

    [Fact]
    public async Task A_card_that_was_down_is_brought_to_the_latest_generation_when_it_comes_back()
    {
        var delivery = new PlanDelivery(_state, _desired);
        Uri address = _cards[1].Agent.Address;
        await StopCard(1);

        ApplyOutcome outcome = await delivery.Apply(PipelineHarness.PlanText("full.json"));
        Assert.Equal("acked", outcome.Cards.Single(c => c.Card == "card0").State);
        CardOutcome down = outcome.Cards.Single(c => c.Card == "card1");
        Assert.Equal("unreachable", down.State);
        Assert.Contains("card 'card1'", down.Detail, StringComparison.Ordinal);

        // The card restarts with no configuration on the same address; the reconciler (running
        // with backoff, nobody asking it) brings it to generation 1.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        Task reconciler = delivery.RunReconciler(TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(400), stop.Token);
        await Task.Delay(300);
        _cards[1] = await StartCard(address.Port);
        // Done when the journal records the card's acknowledgement (the card applies the plan a
        // moment before its answer reaches the reconciler).
        while (_state.AckedGeneration("card1") != 1 && !stop.IsCancellationRequested)
        {
            await Task.Delay(20);
        }

        await stop.CancelAsync();
        await reconciler;
        Assert.Equal(1, _cards[1].Store.Current?.Generation);
        Assert.Equal(1, _state.AckedGeneration("card1"));
    }

    [Fact]
    public async Task A_card_only_another_host_added_is_served_from_the_fleet_s_inventory()
    {
        // Host B added no card; card1 is in the fleet's inventory (host A added it there).
        using var hostB = new ManagementStore(Path.Combine(_dir, "host-b.db"));
        var inventory = new FleetInventory(_desired);
        await inventory.Add(_state.Cards().Single(c => c.Name == "card1"));
        var delivery = new PlanDelivery(hostB, _desired) { FleetCards = c => inventory.All(c) };

        ApplyOutcome outcome = await delivery.Apply(PipelineHarness.PlanText("full.json"));
        Assert.Equal("card1:acked", string.Join(",", outcome.Cards.Select(c => $"{c.Card}:{c.State}")));
        Assert.Equal(1, _cards[1].Store.Current?.Generation);
        Assert.Null(_cards[0].Store.Current); // not in the fleet's inventory: not host B's to serve
        Assert.Equal(1, hostB.AckedGeneration("card1")); // recorded on host B, which has no row for the card itself

        // Restarted empty, it is brought back by host B's reconciler.
        Uri address = _cards[1].Agent.Address;
        await StopCard(1);
        _cards[1] = await StartCard(address.Port);
        Assert.Equal("card1:acked", string.Join(",", (await delivery.Reconcile()).Select(c => $"{c.Card}:{c.State}")));
        Assert.Equal(1, _cards[1].Store.Current?.Generation);
    }

    [Fact]
    public void The_inventory_refuses_duplicates_and_survives_reopening()
    {
        Assert.Throws<InvalidOperationException>(() =>
            _state.AddCard(new Card("card0", new Uri("http://127.0.0.1:1/"), Token, null, "standalone", DateTimeOffset.UtcNow)));
        _state.Dispose();
        _state = new ManagementStore(Path.Combine(_dir, "state.db"));
        Assert.Equal(["card0", "card1"], _state.Cards().Select(c => c.Name));
        Assert.True(_state.RemoveCard("card1"));
        Assert.False(_state.RemoveCard("card1"));
    }
}
