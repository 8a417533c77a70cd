using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;

namespace SnicRuntime.Management;

/// <summary>What happened to one card in a delivery.</summary>
public sealed record CardOutcome(string Card, long Generation, string State, string Detail);

/// <summary>The result of <c>apply</c>: refused before publishing (errors), or published and journaled as a generation with each card's outcome.</summary>
public sealed record ApplyOutcome(long Generation, IReadOnlyList<PlanError> Errors, IReadOnlyList<CardOutcome> Cards)
{
    public bool Journaled => Generation > 0;
}

/// <summary>
/// Change-plan delivery: validate locally, publish as the next generation (the desired plan and
/// its journal in the fleet's store, <c>Fleet.DesiredPlan</c>), send the whole plan to every card
/// this host serves outside HA sets and record each acknowledgement; and reconcile — bring every
/// such card that is behind (down, restarted, added later) to the newest generation. Re-sending a
/// generation a card already runs is harmless (the agent answers "unchanged").
/// </summary>
public sealed class PlanDelivery(ManagementStore state, IStateStore store, ManagementIdentity? identity = null)
{
    private readonly DesiredPlan _desired = new(store);
    private readonly PlanJournal _journal = new(store);

    /// <summary>Cards served by someone else — the cards of HA sets, which get their share from <c>Fleet.FleetDelivery</c>; none by default.</summary>
    public Func<CancellationToken, Task<IReadOnlySet<string>>>? Delegated { get; init; }

    /// <summary>
    /// Checks each HA set's share of a plan as the cards of that set will validate it (set by the
    /// fleet: <c>Fleet.FleetDelivery.CheckShares</c>). When every card is in a set, a plan is
    /// validated as a fleet's (more ENIs than one card holds) and each share as a card's; a card
    /// outside every set gets the whole plan, so then the whole plan must fit one card.
    /// </summary>
    public Func<ChangePlan, CancellationToken, Task<IReadOnlyList<PlanError>>>? Shares { get; init; }

    /// <summary>
    /// The fleet's inventory (set by the fleet: <c>Fleet.FleetDelivery.InventoryCards</c>): cards
    /// another host added are served too, so whichever controller leads reaches every card
    /// outside the sets. Null: this host's inventory only.
    /// </summary>
    public Func<CancellationToken, Task<IReadOnlyList<Card>>>? FleetCards { get; init; }

    /// <summary>Generations the journal keeps (older ones are trimmed every 64 generations).</summary>
    public int JournalKeep { get; init; } = 1000;

    private async Task<List<Card>> Served(CancellationToken cancel)
    {
        IReadOnlySet<string> elsewhere = Delegated is null ? new HashSet<string>() : await Delegated(cancel).ConfigureAwait(false);
        IReadOnlyList<Card> cards = FleetCards is null ? state.Cards() : FleetInventory.Merge(state.Cards(), await FleetCards(cancel).ConfigureAwait(false));
        return [.. cards.Where(c => !elsewhere.Contains(c.Name))];
    }

    /// <summary>Validates <paramref name="planJson"/>, publishes and journals it, and delivers it. A plan with errors changes nothing.</summary>
    public async Task<ApplyOutcome> Apply(string planJson, CancellationToken cancel = default)
    {
        ChangePlan? plan = PlanJson.Parse(planJson, out PlanError? parseError);
        if (plan is null)
        {
            return new ApplyOutcome(0, [parseError!.Value], []);
        }

        await AdoptLegacy(cancel).ConfigureAwait(false);
        // The store owns generation numbers: validate as the one it will most likely become (the
        // publish takes the next free one if another apply got there first).
        plan.Generation = await _journal.Latest(cancel).ConfigureAwait(false) + 1;
        var errors = new List<PlanError>();
        List<Card> served = await Served(cancel).ConfigureAwait(false);
        bool fleetOnly = Shares is not null && served.Count == 0;
        if (PlanValidator.Validate(plan, errors, scope: fleetOnly ? PlanScope.Fleet : PlanScope.Card) is null)
        {
            return new ApplyOutcome(0, errors, []);
        }

        if (fleetOnly && await Shares!(plan, cancel).ConfigureAwait(false) is { Count: > 0 } shareErrors)
        {
            return new ApplyOutcome(0, [.. shareErrors], []);
        }

        Published published = await _desired.Publish(plan, PlanJournal.Sha256(planJson), cancel).ConfigureAwait(false);
        if (published.Generation % 64 == 0)
        {
            try
            {
                await _journal.Trim(JournalKeep, cancel).ConfigureAwait(false);
            }
            catch (StoreException)
            {
                // Housekeeping: the plan is published; the next trim takes what this one left.
            }
        }

        state.Pending(published.Generation, served.Select(c => c.Name));
        string json = PlanJson.Write(plan);
        var outcomes = new List<CardOutcome>();
        foreach (Card card in served)
        {
            outcomes.Add(await Deliver(card, published.Generation, json, cancel).ConfigureAwait(false));
        }

        return new ApplyOutcome(published.Generation, [], outcomes);
    }

    /// <summary>
    /// Sends the newest generation to every card that does not run it: cards that never
    /// acknowledged it, and cards that did but now report an older generation (they restarted
    /// with nothing, or were reflashed). Returns what happened to each card it sent to.
    /// </summary>
    public async Task<IReadOnlyList<CardOutcome>> Reconcile(CancellationToken cancel = default)
    {
        var outcomes = new List<CardOutcome>();
        await AdoptLegacy(cancel).ConfigureAwait(false);
        long latest = await _journal.Latest(cancel).ConfigureAwait(false); // one key: most rounds end here
        if (latest == 0)
        {
            return outcomes;
        }

        (long Generation, string Json)? whole = null;
        foreach (Card card in await Served(cancel).ConfigureAwait(false))
        {
            if (state.AckedGeneration(card.Name) >= latest && await Runs(card, latest, cancel).ConfigureAwait(false))
            {
                continue;
            }

            // The whole plan is read once per round, and only when some card needs it.
            if (whole is null)
            {
                PlanSnapshot? desired = await _desired.Read(cancel).ConfigureAwait(false);
                if (desired?.Plan is not ChangePlan plan)
                {
                    return outcomes; // being written: the next round sends it whole
                }

                whole = (plan.Generation ?? latest, PlanJson.Write(plan));
            }

            state.Pending(whole.Value.Generation, [card.Name]);
            outcomes.Add(await Deliver(card, whole.Value.Generation, whole.Value.Json, cancel).ConfigureAwait(false));
        }

        return outcomes;
    }

    /// <summary>
    /// Moves a journal this host kept before the journal moved into the store (schema 2) into the
    /// store, generation by generation with their numbers, when the store's journal is empty; the
    /// generations adopted (0 when there was nothing to adopt, or the store already has a journal:
    /// another host's history stands, and this one's stays in <c>legacy_plans</c>).
    /// </summary>
    public async Task<int> AdoptLegacy(CancellationToken cancel = default)
    {
        IReadOnlyList<LegacyPlan> legacy = state.LegacyPlans();
        if (legacy.Count == 0 || (await _journal.Generations(cancel).ConfigureAwait(false)).Count > 0)
        {
            return 0;
        }

        foreach (LegacyPlan old in legacy)
        {
            ChangePlan plan = PlanJson.Parse(old.Json, out PlanError? error)
                ?? throw new InvalidDataException($"the legacy journal's generation {old.Generation} does not parse: {error!.Value.Path}: {error.Value.Reason}");
            plan.Generation = old.Generation;
            await new DesiredPlan(store) { By = "legacy journal" }.Publish(plan, old.Sha256, cancel).ConfigureAwait(false);
        }

        state.ForgetLegacyPlans();
        return legacy.Count;
    }

    // Asks the card which generation it runs. An unreachable card counts as running it: there is
    // nothing to send until it answers, and when it answers it is asked again.
    private async Task<bool> Runs(Card card, long generation, CancellationToken cancel)
    {
        using var client = new AgentClient(card, TimeSpan.FromSeconds(5), identity);
        AgentReply reply = await client.Get("/v1/plan", cancel).ConfigureAwait(false);
        return !reply.Ok || reply.Body!.Value.GetProperty("generation").GetInt64() >= generation;
    }

    /// <summary>
    /// Reconciles until every card has the newest generation or <paramref name="cancel"/> fires,
    /// backing off (doubling up to <paramref name="maxDelay"/>) while some card stays behind.
    /// </summary>
    public async Task RunReconciler(TimeSpan firstDelay, TimeSpan maxDelay, CancellationToken cancel, Action<CardOutcome>? report = null)
    {
        TimeSpan delay = firstDelay;
        while (!cancel.IsCancellationRequested)
        {
            IReadOnlyList<CardOutcome> round;
            try
            {
                round = await Reconcile(cancel).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                return; // stopping mid-delivery is a normal stop
            }
            catch (Store.StoreException)
            {
                round = [new CardOutcome("(store)", 0, "unreachable", "the store did not say which cards are served by their sets")];
            }

            foreach (CardOutcome o in round)
            {
                report?.Invoke(o);
            }

            bool behind = round.Any(o => o.State != "acked");
            delay = behind ? TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, maxDelay.Ticks)) : firstDelay;
            try
            {
                await Task.Delay(delay, cancel).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<CardOutcome> Deliver(Card card, long generation, string json, CancellationToken cancel)
    {
        using var client = new AgentClient(card, identity: identity);
        AgentReply reply = await client.ApplyPlan(json, cancel).ConfigureAwait(false);
        (string outcome, string detail) = reply switch
        {
            { Ok: true } => ("acked", reply.Body?.GetProperty("unchanged").GetBoolean() == true ? "already running this generation" : ""),
            { Status: 422 } => ("refused", string.Join("; ", reply.Body!.Value.GetProperty("errors").EnumerateArray()
                .Select(e => $"{e.GetProperty("path").GetString()}: {e.GetProperty("reason").GetString()}"))),
            { Status: 0 } => ("unreachable", reply.Reason),
            _ => ("failed", $"HTTP {reply.Status}: {reply.Reason}"),
        };
        state.Record(card.Name, generation, outcome, detail);
        return new CardOutcome(card.Name, generation, outcome, detail);
    }
}
