using System.Collections.Concurrent;
using System.Diagnostics;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management.Store;

namespace SnicRuntime.Management.Fleet;

/// <summary>
/// Delivery to the cards of HA sets: each card gets only its share of the plan (<see
/// cref="PlanSlice"/>: the ENIs placed on its set and what they reference), numbered with the
/// store revision it was computed at, so the number a card acknowledges says how current it is.
/// A card whose share did not change is not sent anything; a card that restarted empty (it
/// reports an older generation) gets its share again. Fan-out is parallel and bounded, with a
/// deadline per card, so one slow or dead card delays nobody. Every outcome is recorded in the
/// store under the leader's fence (<c>snicctl cards list</c> shows it). One agent client per card
/// is kept between rounds, so a change costs a request on an open connection, not a handshake.
/// </summary>
public sealed partial class FleetDelivery(IStateStore store, ManagementStore inventory, ManagementIdentity? identity = null, ControllerElection? election = null) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, AgentClient> _agents = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<AgentClient> _replaced = [];
    private readonly DesiredPlan _published = new(store); // remembers its last publish, so the next one need not read the plan back
    private readonly DeliveryState _state = new(); // computed by one caller at a time (_computing)

    /// <summary>Cards sent to at once.</summary>
    public int Parallel { get; init; } = 16;

    /// <summary>How often every card is asked whether it still runs its share (a restarted card gets it back within this).</summary>
    public TimeSpan VerifyEvery { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one card may take to answer a delivery.</summary>
    public TimeSpan CardTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Hears where each round's time went (<see cref="RoundTrace"/>), rounds that sent nothing included.</summary>
    public Action<RoundTrace>? Traced { get; init; }

    /// <summary>The cards that belong to a set, and so are delivered here rather than sent the whole plan.</summary>
    public async Task<IReadOnlySet<string>> ManagedCards(CancellationToken cancel = default) =>
        (await new Placement(store).Sets(cancel)).SelectMany(s => s.Set.Cards).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The fleet's inventory: from the cards mirror when this delivery keeps one (a controller,
    /// every round reads it), else read from the store once.
    /// </summary>
    public async Task<IReadOnlyList<Card>> InventoryCards(CancellationToken cancel = default) =>
        _mirrors is { } m ? [.. m[Cards].Current.Entries.Values.Where(e => FleetInventory.IsInventory(e.Key)).Select(FleetInventory.Of)]
            : await new FleetInventory(store).All(cancel);

    /// <summary>
    /// Each set's share of <paramref name="plan"/> validated as the set's cards will validate it
    /// (one card's limits: a fleet plan may hold more ENIs than a card, a set's share may not).
    /// Errors name the set: <c>sets.SET: $.enis: ...</c>.
    /// </summary>
    public async Task<IReadOnlyList<PlanError>> CheckShares(ChangePlan plan, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        PlanSlice slicer = PlanSlice.Index(plan);
        var errors = new List<PlanError>();
        foreach (HaSetView set in await new Placement(store).Sets(cancel))
        {
            var found = new List<PlanError>();
            if (PlanValidator.Validate(slicer.Share(set.Enis.ToHashSet(StringComparer.Ordinal)), found) is null)
            {
                errors.AddRange(found.Select(e => new PlanError($"sets.{set.Set.Name}: {e.Path}", $"{e.Reason} (the share of set '{set.Set.Name}', which its cards hold)")));
            }
        }

        return errors;
    }

    /// <summary>Publishes a validated, journaled plan as the desired state the sets are served from (only the objects that changed are written).</summary>
    public Task<Published> Publish(string planJson, CancellationToken cancel = default) => _published.Publish(planJson, cancel);

    /// <summary>
    /// One round: every card of every set that is behind its share gets it. Cards recorded as
    /// running their share are asked too when <paramref name="verify"/> says so (one that restarted
    /// empty gets it again); the others are not contacted, so a change costs calls to the cards it
    /// touches only. Returns what happened to each card sent to. <paramref name="preempt"/> ends the
    /// asking of cards recorded in sync (a change arrived: it must not wait behind them); sends go on.
    /// </summary>
    public async Task<IReadOnlyList<CardOutcome>> Round(Func<string, bool>? verify = null, CancellationToken cancel = default, CancellationToken preempt = default)
    {
        // One read of each prefix; the plan as one snapshot (none yet, or one still being
        // written, is nothing to deliver: the publish's last write wakes the next round).
        DateTimeOffset started = DateTimeOffset.UtcNow;
        long reading = Stopwatch.GetTimestamp();
        (IReadOnlyList<StoreEntry> Entries, long Revision) plan = await store.Range(FleetKeys.PlanPrefix, cancel);
        (IReadOnlyList<StoreEntry> Entries, long Revision) sets = await store.Range(FleetKeys.Sets, cancel);
        (IReadOnlyList<StoreEntry> Entries, long Revision) enis = await store.Range(FleetKeys.Enis, cancel);
        (IReadOnlyList<StoreEntry> Entries, long Revision) cards = await store.Range(FleetKeys.Cards, cancel);
        TimeSpan read = Stopwatch.GetElapsedTime(reading);
        DeliveryState.Input input;
        await _computing.WaitAsync(cancel);
        try
        {
            input = _state.Compute(plan, sets, enis, cards);
        }
        finally
        {
            _computing.Release();
        }

        return (await Round(input with { Plan = input.Plan + read }, started, verify, cancel, preempt)).Outcomes;
    }

    /// <summary>A round over <paramref name="input"/>; also the store revision of its last record (0: none written).</summary>
    private async Task<(IReadOnlyList<CardOutcome> Outcomes, long Recorded)> Round(DeliveryState.Input input, DateTimeOffset started, Func<string, bool>? verify, CancellationToken cancel, CancellationToken preempt)
    {
        if (input.Desired is not { Plan: not null } desired)
        {
            return ([], 0);
        }

        using var gate = new SemaphoreSlim(Parallel);
        var recorder = new DeliveryRecorder(store, election is null ? [] : [election.FenceCompare]);
        var work = new List<Task<(CardOutcome?, CardTrace?)>>();
        foreach (HaSetView set in input.Sets)
        {
            DeliveryState.Share share = input.Shares[set.Set.Name];
            string sha = share.Sha;
            foreach (string name in set.Set.Cards)
            {
                DeliveryRecord? last = input.Sent.GetValueOrDefault(name);
                // An unchanged share keeps its number, so a card that already runs it is left alone.
                long number = last is not null && last.Sha256 == sha ? last.Revision : desired.Revision;
                work.Add(Deliver(gate, recorder, input.Inventory, set.Set.Name, name, share, number, sha, last, verify?.Invoke(name) ?? true, cancel, preempt));
            }
        }

        (CardOutcome? Outcome, CardTrace? Trace)[] done = await Task.WhenAll(work);
        Traced?.Invoke(new RoundTrace(started, input.Plan, input.Placement, input.Records, input.Slice, [.. done.Select(d => d.Trace).OfType<CardTrace>()]));
        return ([.. done.Select(d => d.Outcome).OfType<CardOutcome>()], recorder.Revision);
    }

    /// <summary>Takes a card's share to it; the trace is there when the share was sent (applied or refused).</summary>
    private async Task<(CardOutcome?, CardTrace?)> Deliver(SemaphoreSlim gate, DeliveryRecorder recorder, IReadOnlyDictionary<string, Card> fleetCards, string set, string name, DeliveryState.Share share, long number, string sha, DeliveryRecord? last, bool verify, CancellationToken cancel, CancellationToken preempt)
    {
        bool inSync = last is { State: "acked" } && last.Sha256 == sha;
        if (!verify && inSync)
        {
            return (null, null);
        }

        long queued = Stopwatch.GetTimestamp();

        // Only asking a card recorded in sync can be preempted; it is asked again in a later slot.
        using var ask = inSync ? CancellationTokenSource.CreateLinkedTokenSource(cancel, preempt) : null;
        try
        {
            await gate.WaitAsync(ask?.Token ?? cancel);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            return (null, null);
        }

        try
        {
            long lookingUp = Stopwatch.GetTimestamp();
            // The fleet's inventory first (any host may have added the card), then this host's.
            Card? card = fleetCards.GetValueOrDefault(name) ?? inventory.FindCard(name);
            if (card is null)
            {
                return (await Record(recorder, new DeliveryRecord(name, set, number, sha, "unknown", $"set '{set}' names card '{name}', which is not in the inventory", DateTimeOffset.UtcNow), cancel), null);
            }

            AgentClient client = Agent(card);
            long asking = Stopwatch.GetTimestamp();
            AgentReply runs;
            try
            {
                runs = await client.Get("/v1/plan", ask?.Token ?? cancel);
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                return (null, null); // preempted mid-question: asked again in a later slot
            }

            if (runs.Ok && runs.Body!.Value.TryGetProperty("digest", out var digest) && digest.GetString() == sha)
            {
                // It runs this content already: acknowledged before (nothing to do), or sent by a
                // leader that died before recording it — record it now instead of applying it twice.
                long running = runs.Body.Value.GetProperty("generation").GetInt64();
                return last is { State: "acked" } && last.Sha256 == sha && last.Revision == running ? (null, null)
                    : (await Record(recorder, new DeliveryRecord(name, set, running, sha, "acked", "already running this share", DateTimeOffset.UtcNow), cancel), null);
            }

            if (!runs.Ok && last is { State: "acked" } && last.Sha256 == sha)
            {
                return (null, null); // cannot be asked now; it is asked again next round
            }

            // A card's generations only grow: a store that was replaced (its revisions start again)
            // still numbers the share above what the card runs.
            if (runs.Ok && runs.Body!.Value.GetProperty("generation").GetInt64() is long current && current >= number)
            {
                number = current + 1;
            }

            long applying = Stopwatch.GetTimestamp();
            (AgentReply reply, string how) = await Send(client, share, runs, number, cancel);
            long recording = Stopwatch.GetTimestamp();
            (string state, string detail) = reply switch
            {
                { Ok: true } => ("acked", how),
                { Status: 422 } => ("refused", string.Join("; ", reply.Body!.Value.GetProperty("errors").EnumerateArray()
                    .Select(e => $"{e.GetProperty("path").GetString()}: {e.GetProperty("reason").GetString()}"))),
                { Status: 0 } => ("unreachable", reply.Reason),
                _ => ("failed", $"HTTP {reply.Status}: {reply.Reason}"),
            };
            CardOutcome outcome = await Record(recorder, new DeliveryRecord(name, set, number, sha, state, detail, DateTimeOffset.UtcNow), cancel);
            return (outcome, new CardTrace(name, Stopwatch.GetElapsedTime(queued, lookingUp), Stopwatch.GetElapsedTime(lookingUp, asking), Stopwatch.GetElapsedTime(asking, applying),
                Stopwatch.GetElapsedTime(applying, recording), Stopwatch.GetElapsedTime(recording)));
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Sends a card its share: only the difference when the card runs the share this one replaced
    /// and the difference is the smaller message (a plan delta, which the card checks against both
    /// digests), else the whole share — also when the card refuses the delta as not for what it
    /// runs (409) or does not know deltas (404/405). Numbered per card; the share itself is shared.
    /// </summary>
    private static async Task<(AgentReply Reply, string How)> Send(AgentClient client, DeliveryState.Share share, AgentReply runs, long number, CancellationToken cancel)
    {
        string whole = PlanJson.Write(share.Plan.At(number));
        if (share.Before is not null && runs.Ok && runs.Body!.Value.TryGetProperty("digest", out var digest) && digest.GetString() == share.BeforeSha)
        {
            PlanDelta delta = PlanDelta.Between(share.Before, share.Plan, number);
            string json = PlanJson.Write(delta);
            if (json.Length < whole.Length)
            {
                AgentReply patched = await client.Send(HttpMethod.Patch, "/v1/plan", json, cancel);
                if (patched.Status is not (409 or 404 or 405))
                {
                    return (patched, $"delta of {delta.Objects} object(s)");
                }
            }
        }

        return (await client.ApplyPlan(whole, cancel), "");
    }

    /// <summary>
    /// The card's client, kept between rounds (its connection stays open). A card re-added with
    /// another address or token gets a new one; the old one is disposed with this delivery, since
    /// a round that overlaps (an apply's own) may still be using it.
    /// </summary>
    private AgentClient Agent(Card card)
    {
        if (_agents.TryGetValue(card.Name, out AgentClient? known) && known.Card.Address == card.Address && known.Card.Token == card.Token)
        {
            return known;
        }

        var fresh = new AgentClient(card, CardTimeout, identity);
        if (known is not null && _agents.TryUpdate(card.Name, fresh, known))
        {
            _replaced.Add(known);
            return fresh;
        }

        if (_agents.TryAdd(card.Name, fresh))
        {
            return fresh;
        }

        fresh.Dispose(); // another round added this card's client first
        return _agents[card.Name];
    }


    private static async Task<CardOutcome> Record(DeliveryRecorder recorder, DeliveryRecord d, CancellationToken cancel)
    {
        await recorder.Add(d, cancel);
        return new CardOutcome(d.Card, d.Revision, d.State, d.Detail);
    }

    /// <summary>
    /// Every card of a set with its last delivery and whether it is in sync: it acknowledged the
    /// share the desired state gives it now. Behind means a change has not reached it yet.
    /// </summary>
    public async Task<IReadOnlyList<(string Card, string Set, DeliveryRecord? Last, bool InSync)>> Status(CancellationToken cancel = default)
    {
        PlanSnapshot? desired = await new DesiredPlan(store).Read(cancel);
        PlanSlice? slicer = desired?.Plan is null ? null : PlanSlice.Index(desired.Plan);
        Dictionary<string, DeliveryRecord> sent = (await store.Range(FleetKeys.Cards, cancel)).Entries
            .Where(e => e.Key.EndsWith("/delivery", StringComparison.Ordinal))
            .Select(e => FleetJson.Read(e, FleetJson.Default.DeliveryRecord)).ToDictionary(d => d.Card, StringComparer.Ordinal);
        var list = new List<(string, string, DeliveryRecord?, bool)>();
        foreach (HaSetView set in await new Placement(store).Sets(cancel))
        {
            string? sha = slicer is null ? null : Sha(slicer.Share(set.Enis.ToHashSet(StringComparer.Ordinal)));
            foreach (string card in set.Set.Cards)
            {
                DeliveryRecord? last = sent.GetValueOrDefault(card);
                // No plan published: nothing to be behind on. One being written: nobody is in sync with it yet.
                list.Add((card, set.Set.Name, last, desired is null || (sha is not null && last is { State: "acked" } && last.Sha256 == sha)));
            }
        }

        return list;
    }

    private static string Sha(ChangePlan share) => PlanDigest.Of(share);
}
