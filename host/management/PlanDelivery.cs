using SnicRuntime.Contracts.Plans;
using System.Security.Cryptography;
using System.Text;

namespace SnicRuntime.Management;

/// <summary>What happened to one card in a delivery.</summary>
public sealed record CardOutcome(string Card, long Generation, string State, string Detail);

/// <summary>The result of <c>apply</c>: refused before journaling (errors), or journaled as a generation with each card's outcome.</summary>
public sealed record ApplyOutcome(long Generation, IReadOnlyList<PlanError> Errors, IReadOnlyList<CardOutcome> Cards)
{
    public bool Journaled => Generation > 0;
}

/// <summary>
/// Change-plan delivery: validate locally, journal as the next generation, send to every card and
/// record each acknowledgement; and reconcile — bring every card that is behind (down, restarted,
/// added later) to the newest generation. Re-sending a generation a card already runs is harmless
/// (the agent answers "unchanged").
/// </summary>
public sealed class PlanDelivery(ManagementStore store, ManagementIdentity? identity = null)
{
    /// <summary>Cards served by someone else — the cards of HA sets, which get their share from <c>Fleet.FleetDelivery</c>; none by default.</summary>
    public Func<CancellationToken, Task<IReadOnlySet<string>>>? Delegated { get; init; }

    /// <summary>
    /// Checks each HA set's share of a plan as the cards of that set will validate it (set by the
    /// fleet: <c>Fleet.FleetDelivery.CheckShares</c>). When every card is in a set, a plan is
    /// validated as a fleet's (more ENIs than one card holds) and each share as a card's; a card
    /// outside every set gets the whole plan, so then the whole plan must fit one card.
    /// </summary>
    public Func<ChangePlan, CancellationToken, Task<IReadOnlyList<PlanError>>>? Shares { get; init; }

    private async Task<IEnumerable<Card>> Served(CancellationToken cancel)
    {
        IReadOnlySet<string> elsewhere = Delegated is null ? new HashSet<string>() : await Delegated(cancel).ConfigureAwait(false);
        return store.Cards().Where(c => !elsewhere.Contains(c.Name));
    }

    /// <summary>Validates <paramref name="planJson"/>, journals it and delivers it. A plan with errors journals nothing.</summary>
    public async Task<ApplyOutcome> Apply(string planJson, CancellationToken cancel = default)
    {
        ChangePlan? plan = PlanJson.Parse(planJson, out PlanError? parseError);
        if (plan is null)
        {
            return new ApplyOutcome(0, [parseError!.Value], []);
        }

        // The journal owns generation numbers: validate as the generation it will become.
        long next = (store.Latest()?.Generation ?? 0) + 1;
        plan.Generation = next;
        var errors = new List<PlanError>();
        bool fleetOnly = Shares is not null && !(await Served(cancel).ConfigureAwait(false)).Any();
        if (PlanValidator.Validate(plan, errors, scope: fleetOnly ? PlanScope.Fleet : PlanScope.Card) is null)
        {
            return new ApplyOutcome(0, errors, []);
        }

        if (fleetOnly && await Shares!(plan, cancel).ConfigureAwait(false) is { Count: > 0 } shareErrors)
        {
            return new ApplyOutcome(0, [.. shareErrors], []);
        }

        long generation = store.Journal(g =>
        {
            plan.Generation = g;
            return PlanJson.Write(plan);
        }, Sha256(planJson));
        var outcomes = new List<CardOutcome>();
        foreach (Card card in await Served(cancel).ConfigureAwait(false))
        {
            outcomes.Add(await Deliver(card, generation, cancel).ConfigureAwait(false));
        }

        return new ApplyOutcome(generation, [], outcomes);
    }

    /// <summary>
    /// Sends the newest generation to every card that does not run it: cards that never
    /// acknowledged it, and cards that did but now report an older generation (they restarted
    /// with nothing, or were reflashed). Returns what happened to each card it sent to.
    /// </summary>
    public async Task<IReadOnlyList<CardOutcome>> Reconcile(CancellationToken cancel = default)
    {
        JournaledPlan? latest = store.Latest();
        var outcomes = new List<CardOutcome>();
        if (latest is null)
        {
            return outcomes;
        }

        foreach (Card card in await Served(cancel).ConfigureAwait(false))
        {
            if (store.AckedGeneration(card.Name) >= latest.Generation && await Runs(card, latest.Generation, cancel).ConfigureAwait(false))
            {
                continue;
            }

            outcomes.Add(await Deliver(card, latest.Generation, cancel).ConfigureAwait(false));
        }

        return outcomes;
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

    private async Task<CardOutcome> Deliver(Card card, long generation, CancellationToken cancel)
    {
        JournaledPlan plan = store.Plans().First(p => p.Generation == generation);
        using var client = new AgentClient(card, identity: identity);
        AgentReply reply = await client.ApplyPlan(plan.Json, cancel).ConfigureAwait(false);
        (string state, string detail) = reply switch
        {
            { Ok: true } => ("acked", reply.Body?.GetProperty("unchanged").GetBoolean() == true ? "already running this generation" : ""),
            { Status: 422 } => ("refused", string.Join("; ", reply.Body!.Value.GetProperty("errors").EnumerateArray()
                .Select(e => $"{e.GetProperty("path").GetString()}: {e.GetProperty("reason").GetString()}"))),
            { Status: 0 } => ("unreachable", reply.Reason),
            _ => ("failed", $"HTTP {reply.Status}: {reply.Reason}"),
        };
        store.Record(card.Name, generation, state, detail);
        return new CardOutcome(card.Name, generation, state, detail);
    }

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
