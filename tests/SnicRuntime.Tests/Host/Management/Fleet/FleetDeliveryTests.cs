using System.Diagnostics;
using System.Net;
using SnicRuntime.Firmware.Agent;
using SnicRuntime.Firmware.Card;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Firmware.Plans;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal.Board;
using SnicRuntime.Management;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;
using SnicRuntime.TestKit;
using SnicRuntime.Tests.Firmware.Pipeline;
using Xunit;

namespace SnicRuntime.Tests.Host.Management.Fleet;

/// <summary>
/// Delivery to the cards of HA sets against real card agents on loopback: each card gets only its
/// set's share, an unchanged share is not sent again, a placement change reaches only the sets it
/// touches, a card that restarted empty gets its share back, and a dead card delays nobody.
/// </summary>
public sealed class FleetDeliveryTests : IAsyncLifetime
{
    private const string Token = "fleet-delivery-token-0123";
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-fleet-delivery-").FullName;
    private readonly List<(Dataplane Dp, PolicyStore Policy, CardAgent Agent)> _cards = [];
    private ManagementStore _inventory = null!;
    private SqliteStateStore _store = null!;
    private FleetDelivery _delivery = null!;

    public async Task InitializeAsync()
    {
        _inventory = new ManagementStore(Path.Combine(_dir, "state.db"));
        _store = new SqliteStateStore(Path.Combine(_dir, "fleet.db"));
        for (int i = 0; i < 4; i++)
        {
            _cards.Add(await StartCard());
            _inventory.AddCard(new Card($"card{i}", _cards[i].Agent.Address, Token, "emulated", "standalone", DateTimeOffset.UtcNow));
        }

        var placement = new Placement(_store);
        await placement.CreateSet("s1", ["card0", "card1"]);
        await placement.CreateSet("s2", ["card2", "card3"]);
        _delivery = new FleetDelivery(_store, _inventory) { CardTimeout = TimeSpan.FromSeconds(10) };
        await _delivery.Publish(PipelineHarness.PlanText("full.json"));
    }

    private static async Task<(Dataplane, PolicyStore, CardAgent)> StartCard()
    {
        BoardDefinition board = BoardLoader.Load(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"));
        var policy = new PolicyStore(board.Ports.Count);
        Dataplane dp = Dataplane.Create(board, new DataplaneOptions { Stage = StageKind.Policy, Policy = policy, FlowsPerWorker = 1024 });
        return (dp, policy, await CardAgent.StartAsync(dp, policy, Token, new IPEndPoint(IPAddress.Loopback, 0)));
    }

    public async Task DisposeAsync()
    {
        await _delivery.DisposeAsync();
        foreach (var c in _cards)
        {
            await c.Agent.DisposeAsync();
            c.Dp.Dispose();
        }

        await _store.DisposeAsync();
        _inventory.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string[] EnisOn(int card) => [.. _cards[card].Policy.Current!.Enis.OfType<Eni>().Select(e => e.Name).Order()];

    private static bool Known(string eni) => eni is "eni1" or "eni2";

    [Fact]
    public async Task Each_card_gets_its_sets_share_and_only_changed_shares_are_sent_again()
    {
        var placement = new Placement(_store);
        await placement.Place("eni1", "s1", false, Known);
        await placement.Place("eni2", "s2", false, Known);
        IReadOnlyList<CardOutcome> first = await _delivery.Round();
        Assert.Equal(4, first.Count);
        Assert.All(first, o => Assert.Equal("acked", o.State));
        Assert.Equal(["eni1"], EnisOn(0));
        Assert.Equal(["eni1"], EnisOn(1));
        Assert.Equal(["eni2"], EnisOn(2));
        Assert.Equal(["eni2"], EnisOn(3));
        long generation = _cards[0].Policy.Current!.Generation;
        Assert.Equal(first[0].Generation, generation); // the card runs the revision its share was computed at

        Assert.Empty(await _delivery.Round()); // nothing changed: nothing sent

        // Move eni2 to s1: both sets' shares change.
        await placement.Place("eni2", "s1", true, Known);
        IReadOnlyList<CardOutcome> moved = await _delivery.Round();
        Assert.Equal(["card0", "card1", "card2", "card3"], moved.Select(o => o.Card).Order());
        Assert.Equal(["eni1", "eni2"], EnisOn(1));
        Assert.Empty(EnisOn(3));
        Assert.True(_cards[1].Policy.Current!.Generation > generation);

        // A card that restarted empty gets its share back; nobody else is sent anything.
        await _cards[2].Agent.DisposeAsync();
        _cards[2].Dp.Dispose();
        _cards[2] = await StartCard();
        _inventory.RemoveCard("card2");
        _inventory.AddCard(new Card("card2", _cards[2].Agent.Address, Token, "emulated", "standalone", DateTimeOffset.UtcNow));
        IReadOnlyList<CardOutcome> back = await _delivery.Round();
        Assert.Equal(["card2"], back.Select(o => o.Card));
        Assert.NotNull(_cards[2].Policy.Current);
        Assert.All(await _delivery.Status(), s => Assert.True(s.InSync, $"{s.Card} behind"));
    }

    [Fact]
    public async Task A_dead_card_is_reported_and_delays_nobody_else()
    {
        await new Placement(_store).Place("eni1", "s1", false, Known);
        await _cards[0].Agent.DisposeAsync(); // card0's agent is gone
        var timer = Stopwatch.StartNew();
        IReadOnlyList<CardOutcome> round = await _delivery.Round();
        Assert.True(timer.Elapsed < TimeSpan.FromSeconds(5), $"a round took {timer.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal("unreachable", round.Single(o => o.Card == "card0").State);
        Assert.All(round.Where(o => o.Card != "card0"), o => Assert.Equal("acked", o.State));
        var status = await _delivery.Status();
        Assert.False(status.Single(s => s.Card == "card0").InSync);
        Assert.True(status.Single(s => s.Card == "card1").InSync);
    }

    [Fact]
    public async Task A_share_a_dead_leader_sent_but_never_recorded_is_not_applied_again()
    {
        await new Placement(_store).Place("eni1", "s1", false, Known);
        Assert.Equal(4, (await _delivery.Round()).Count);
        long installs = _cards[0].Policy.Installed;

        // The leader dies between sending a change and recording it: the card runs the new
        // share, the store still says it has the old one.
        await new Placement(_store).Place("eni2", "s1", false, Known);
        IReadOnlyList<CardOutcome> sentByTheDead = await _delivery.Round();
        Assert.Contains(sentByTheDead, o => o.Card == "card0");
        await _store.Delete(FleetKeys.Delivery("card0"));
        long afterFirst = _cards[0].Policy.Installed;
        Assert.Equal(installs + 1, afterFirst);

        IReadOnlyList<CardOutcome> next = await _delivery.Round(); // the new leader's first round
        Assert.Equal("acked", next.Single(o => o.Card == "card0").State);
        Assert.Equal(afterFirst, _cards[0].Policy.Installed); // recorded, not installed a second time
        Assert.Empty(await _delivery.Round());
    }

    [Fact]
    public async Task The_leaders_loop_delivers_each_change_from_its_mirrors_to_the_cards_it_touches_once()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var traces = new System.Collections.Concurrent.ConcurrentQueue<RoundTrace>();
        await using var leader = new FleetDelivery(_store, _inventory) { CardTimeout = TimeSpan.FromSeconds(10), Traced = traces.Enqueue };
        Task warm = leader.Warm(stop.Token); // a follower's warm-up beside the loop, as serve runs both
        Task loop = leader.Run(TimeSpan.FromMilliseconds(200), _ => { }, w => throw new InvalidOperationException(w), stop.Token);

        var placement = new Placement(_store);
        await placement.Place("eni1", "s1", false, Known);
        await placement.Place("eni2", "s2", false, Known);
        await Until(() => _cards.All(c => c.Policy.Current is not null) && EnisOn(0).SequenceEqual(["eni1"]) && EnisOn(1).SequenceEqual(["eni1"])
            && EnisOn(2).SequenceEqual(["eni2"]) && EnisOn(3).SequenceEqual(["eni2"]), "every card gets its set's share");
        await Until(async () => (await leader.Status()).All(s => s.InSync), "every card recorded in sync");
        long[] installs = [.. _cards.Select(c => c.Policy.Installed)];

        // One ENI's change: its set's two cards install it once; the other set is not sent anything.
        string plan = PipelineHarness.PlanText("full.json");
        var changed = SnicRuntime.Contracts.Plans.PlanJson.Parse(plan, out _)!;
        changed.Enis!.Single(e => e.Name == "eni1").AdminState = "down";
        await new DesiredPlan(_store).Publish(changed);
        await Until(() => _cards[0].Policy.Current!.Enis.OfType<Eni>().Single().AdminUp == false && _cards[1].Policy.Current!.Enis.OfType<Eni>().Single().AdminUp == false,
            "the change reaches both cards of s1");
        await Until(async () => (await leader.Status()).All(s => s.InSync), "every card recorded in sync");
        await Task.Delay(500); // a few more rounds: nothing more is sent
        Assert.Equal([installs[0] + 1, installs[1] + 1, installs[2], installs[3]], _cards.Select(c => c.Policy.Installed));
        Assert.Contains(traces, t => t.Cards.Select(c => c.Card).Order().SequenceEqual(["card0", "card1"]));
        // The two cards ran the share this one replaced, so they were sent the difference only.
        Assert.All((await leader.Status()).Where(s => s.Set == "s1"), s => Assert.StartsWith("delta of 1 object", s.Last!.Detail, StringComparison.Ordinal));

        await stop.CancelAsync();
        await Task.WhenAll(loop, warm);
    }

    [Fact]
    public async Task A_restarted_controller_resumes_from_the_records_sending_only_what_changed_while_it_was_down()
    {
        var placement = new Placement(_store);
        await placement.Place("eni1", "s1", false, Known);
        await placement.Place("eni2", "s2", false, Known);
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await using var first = new FleetDelivery(_store, _inventory) { CardTimeout = TimeSpan.FromSeconds(10) };
            Task loop = first.Run(TimeSpan.FromMilliseconds(200), _ => { }, w => throw new InvalidOperationException(w), stop.Token);
            await Until(async () => (await first.Status()).All(s => s.InSync), "the first controller brings every card in sync");
            await stop.CancelAsync();
            await loop;
        }

        // While no controller runs, eni2 changes; then a new controller process (a new instance, nothing in memory) starts.
        long[] installs = [.. _cards.Select(c => c.Policy.Installed)];
        var changed = SnicRuntime.Contracts.Plans.PlanJson.Parse(PipelineHarness.PlanText("full.json"), out _)!;
        changed.Enis!.Single(e => e.Name == "eni2").AdminState = "down";
        await new DesiredPlan(_store).Publish(changed);
        using var again = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var second = new FleetDelivery(_store, _inventory) { CardTimeout = TimeSpan.FromSeconds(10) };
        Task resumed = second.Run(TimeSpan.FromMilliseconds(200), _ => { }, w => throw new InvalidOperationException(w), again.Token);
        await Until(async () => (await second.Status()).All(s => s.InSync), "the restarted controller brings s2 in sync");
        await Task.Delay(500);
        Assert.Equal([installs[0], installs[1], installs[2] + 1, installs[3] + 1], _cards.Select(c => c.Policy.Installed));
        await again.CancelAsync();
        await resumed;
    }

    [Fact]
    public async Task A_controller_on_a_host_without_an_inventory_reaches_the_cards_the_fleet_knows()
    {
        var fleetCards = new FleetInventory(_store);
        for (int i = 0; i < _cards.Count; i++)
        {
            await fleetCards.Add(new Card($"card{i}", _cards[i].Agent.Address, Token, "emulated", "standalone", DateTimeOffset.UtcNow));
        }

        var twice = await Assert.ThrowsAsync<InvalidOperationException>(() => fleetCards.Add(new Card("card0", new Uri("http://127.0.0.1:9"), Token, null, "standalone", DateTimeOffset.UtcNow)));
        Assert.Contains("already in the fleet's inventory", twice.Message, StringComparison.Ordinal);
        Assert.Equal(_cards[0].Agent.Address, (await fleetCards.All()).Single(c => c.Name == "card0").Address); // the first add stands

        using var otherHost = new ManagementStore(Path.Combine(_dir, "other-host.db")); // knows no card
        await using var elsewhere = new FleetDelivery(_store, otherHost) { CardTimeout = TimeSpan.FromSeconds(10) };
        await new Placement(_store).Place("eni1", "s1", false, Known);
        IReadOnlyList<CardOutcome> round = await elsewhere.Round();
        Assert.Equal(4, round.Count);
        Assert.All(round, o => Assert.Equal("acked", o.State));
        Assert.Equal(["eni1"], EnisOn(0));

        Assert.True(await fleetCards.Remove("card3"));
        Assert.False(await fleetCards.Remove("card3"));
        Assert.Equal(3, (await fleetCards.All()).Count);
    }

    [Fact]
    public async Task A_fleet_plan_may_hold_more_ENIs_than_a_card_but_no_set_may()
    {
        // 1,100 ENIs: more than one card holds (1,024), fine while spread over sets.
        var plan = SnicRuntime.Contracts.Plans.PlanJson.Parse(PipelineHarness.PlanText("full.json"), out _)!;
        SnicRuntime.Contracts.Plans.EniSpec template = plan.Enis![0];
        for (int i = 0; i < 1100; i++)
        {
            plan.Enis.Add(new SnicRuntime.Contracts.Plans.EniSpec
            {
                Name = $"many{i}", Mac = $"00:dd:00:{i >> 8:x2}:{i & 255:x2}:01", Vnet = template.Vnet, VmVni = template.VmVni,
                VmUnderlayIp = template.VmUnderlayIp, RouteTable = template.RouteTable, Acl = template.Acl,
            });
        }

        string json = SnicRuntime.Contracts.Plans.PlanJson.Write(plan);
        var cardScope = new PlanDelivery(_inventory, _store) { Delegated = _delivery.ManagedCards };
        ApplyOutcome refused = await cardScope.Apply(json);
        Assert.False(refused.Journaled);
        Assert.Contains(refused.Errors, e => e.Path == "$.enis" && e.Reason.Contains("at most 1024", StringComparison.Ordinal));

        var fleetScope = new PlanDelivery(_inventory, _store) { Delegated = _delivery.ManagedCards, Shares = _delivery.CheckShares };
        ApplyOutcome accepted = await fleetScope.Apply(json);
        Assert.True(accepted.Journaled, string.Join("; ", accepted.Errors.Select(e => e.Path + ": " + e.Reason)));

        // 1,030 of them on one set: that set's cards could not hold its share; nothing is journaled.
        var placement = new Placement(_store);
        await Parallel.ForAsync(0, 1030, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, cancel) =>
            await placement.Place($"many{i}", "s1", false, _ => true, cancel));
        ApplyOutcome tooMany = await fleetScope.Apply(json);
        Assert.False(tooMany.Journaled);
        SnicRuntime.Contracts.Plans.PlanError error = Assert.Single(tooMany.Errors);
        Assert.Equal("sets.s1: $.enis", error.Path);
        Assert.Contains("the share of set 's1'", error.Reason, StringComparison.Ordinal);
        Assert.Equal(accepted.Generation, await new PlanJournal(_store).Latest());
    }

    private static async Task Until(Func<bool> condition, string what) => await Until(() => Task.FromResult(condition()), what);

    private static async Task Until(Func<Task<bool>> condition, string what)
    {
        for (var timer = Stopwatch.StartNew(); !await condition(); await Task.Delay(20))
        {
            Assert.True(timer.Elapsed < TimeSpan.FromSeconds(20), $"timed out waiting: {what}");
        }
    }
}
