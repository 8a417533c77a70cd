using System.Security.Cryptography;
using System.Text;
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
/// store under the leader's fence (<c>snicctl cards list</c> shows it).
/// </summary>
public sealed class FleetDelivery(IStateStore store, ManagementStore inventory, ManagementIdentity? identity = null, ControllerElection? election = null)
{
    /// <summary>Cards sent to at once.</summary>
    public int Parallel { get; init; } = 16;

    /// <summary>How often every card is asked whether it still runs its share (a restarted card gets it back within this).</summary>
    public TimeSpan VerifyEvery { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one card may take to answer a delivery.</summary>
    public TimeSpan CardTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The cards that belong to a set, and so are delivered here rather than sent the whole plan.</summary>
    public async Task<IReadOnlySet<string>> ManagedCards(CancellationToken cancel = default) =>
        (await new Placement(store).Sets(cancel)).SelectMany(s => s.Set.Cards).ToHashSet(StringComparer.Ordinal);

    /// <summary>Publishes a validated, journaled plan as the desired state the sets are served from (only the objects that changed are written).</summary>
    public Task<long> Publish(string planJson, CancellationToken cancel = default) => new DesiredPlan(store).Publish(planJson, cancel);

    /// <summary>
    /// One round: every card of every set that is behind its share gets it. Cards recorded as
    /// running their share are asked too when <paramref name="verify"/> says so (one that restarted
    /// empty gets it again); the others are not contacted, so a change costs calls to the cards it
    /// touches only. Returns what happened to each card sent to. <paramref name="preempt"/> ends the
    /// asking of cards recorded in sync (a change arrived: it must not wait behind them); sends go on.
    /// </summary>
    public async Task<IReadOnlyList<CardOutcome>> Round(Func<string, bool>? verify = null, CancellationToken cancel = default, CancellationToken preempt = default)
    {
        // The plan as one snapshot; none yet, or one still being written, is nothing to deliver
        // (the publish's last write wakes the next round).
        if (await new DesiredPlan(store).Read(cancel) is not { Plan: ChangePlan plan } desired)
        {
            return [];
        }

        long revision = desired.Revision;
        IReadOnlyList<HaSetView> sets = await new Placement(store).Sets(cancel);
        Dictionary<string, DeliveryRecord> sent = (await store.Range(FleetKeys.Cards, cancel)).Entries
            .Where(e => e.Key.EndsWith("/delivery", StringComparison.Ordinal))
            .Select(e => FleetJson.Read(e, FleetJson.Default.DeliveryRecord)).ToDictionary(d => d.Card, StringComparer.Ordinal);

        using var gate = new SemaphoreSlim(Parallel);
        var work = new List<Task<CardOutcome?>>();
        PlanSlice slicer = PlanSlice.Index(plan);
        foreach (HaSetView set in sets)
        {
            var enis = set.Enis.ToHashSet(StringComparer.Ordinal);
            ChangePlan share = slicer.Share(enis);
            string sha = Sha(share);
            bool first = true;
            foreach (string name in set.Set.Cards)
            {
                DeliveryRecord? last = sent.GetValueOrDefault(name);
                // An unchanged share keeps its number, so a card that already runs it is left alone.
                long number = last is not null && last.Sha256 == sha ? last.Revision : revision;
                work.Add(Deliver(gate, set.Set.Name, name, first ? share : slicer.Share(enis), number, sha, last, verify?.Invoke(name) ?? true, cancel, preempt)); // its own copy: the number differs per card
                first = false;
            }
        }

        return [.. (await Task.WhenAll(work)).OfType<CardOutcome>()];
    }

    private async Task<CardOutcome?> Deliver(SemaphoreSlim gate, string set, string name, ChangePlan share, long number, string sha, DeliveryRecord? last, bool verify, CancellationToken cancel, CancellationToken preempt)
    {
        bool inSync = last is { State: "acked" } && last.Sha256 == sha;
        if (!verify && inSync)
        {
            return null;
        }

        // Only asking a card recorded in sync can be preempted; it is asked again in a later slot.
        using var ask = inSync ? CancellationTokenSource.CreateLinkedTokenSource(cancel, preempt) : null;
        try
        {
            await gate.WaitAsync(ask?.Token ?? cancel);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            return null;
        }

        try
        {
            Card? card = inventory.FindCard(name);
            if (card is null)
            {
                return await Record(new DeliveryRecord(name, set, number, sha, "unknown", $"set '{set}' names card '{name}', which is not in the inventory", DateTimeOffset.UtcNow), cancel);
            }

            using var client = new AgentClient(card, CardTimeout, identity);
            AgentReply runs;
            try
            {
                runs = await client.Get("/v1/plan", ask?.Token ?? cancel);
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                return null; // preempted mid-question: asked again in a later slot
            }

            if (runs.Ok && runs.Body!.Value.TryGetProperty("digest", out var digest) && digest.GetString() == sha)
            {
                // It runs this content already: acknowledged before (nothing to do), or sent by a
                // leader that died before recording it — record it now instead of applying it twice.
                long running = runs.Body.Value.GetProperty("generation").GetInt64();
                return last is { State: "acked" } && last.Sha256 == sha && last.Revision == running ? null
                    : await Record(new DeliveryRecord(name, set, running, sha, "acked", "already running this share", DateTimeOffset.UtcNow), cancel);
            }

            if (!runs.Ok && last is { State: "acked" } && last.Sha256 == sha)
            {
                return null; // cannot be asked now; it is asked again next round
            }

            // A card's generations only grow: a store that was replaced (its revisions start again)
            // still numbers the share above what the card runs.
            if (runs.Ok && runs.Body!.Value.GetProperty("generation").GetInt64() is long current && current >= number)
            {
                number = current + 1;
            }

            share.Generation = number;
            AgentReply reply = await client.ApplyPlan(PlanJson.Write(share), cancel);
            (string state, string detail) = reply switch
            {
                { Ok: true } => ("acked", ""),
                { Status: 422 } => ("refused", string.Join("; ", reply.Body!.Value.GetProperty("errors").EnumerateArray()
                    .Select(e => $"{e.GetProperty("path").GetString()}: {e.GetProperty("reason").GetString()}"))),
                { Status: 0 } => ("unreachable", reply.Reason),
                _ => ("failed", $"HTTP {reply.Status}: {reply.Reason}"),
            };
            return await Record(new DeliveryRecord(name, set, number, sha, state, detail, DateTimeOffset.UtcNow), cancel);
        }
        finally
        {
            gate.Release();
        }
    }

    private static int StableHash(string s)
    {
        int h = 17;
        foreach (char c in s)
        {
            h = unchecked((h * 31) + c);
        }

        return h & int.MaxValue;
    }

    private async Task<CardOutcome> Record(DeliveryRecord d, CancellationToken cancel)
    {
        List<StoreCompare> fence = election is null ? [] : [election.FenceCompare];
        await store.Txn(fence, [StoreOp.Put(FleetKeys.Delivery(d.Card), FleetJson.Bytes(d, FleetJson.Default.DeliveryRecord))], null, cancel);
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

    /// <summary>
    /// The leader's loop: a round whenever the plan, a set or a placement changes (watched), and
    /// every <paramref name="every"/> besides, to catch cards that restarted or came back.
    /// </summary>
    public async Task Run(TimeSpan every, Action<CardOutcome> report, Action<string> warn, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(warn);
        using var changed = new SemaphoreSlim(0);
        CancellationTokenSource preempt = new();
        void Changed()
        {
            changed.Release();
            Volatile.Read(ref preempt).Cancel(); // the round under way stops asking in-sync cards
        }

        long from = await store.Revision(cancel) + 1;
        Task[] watches = [.. new[] { FleetKeys.PlanPrefix, FleetKeys.Sets, FleetKeys.Enis }.Select(prefix => Task.Run(async () =>
        {
            try
            {
                await foreach (WatchEvent _ in store.Watch(prefix, from, cancel))
                {
                    Changed();
                }
            }
            catch (Exception e) when (e is OperationCanceledException or StoreException)
            {
                Changed(); // fall back on the periodic round
            }
        }, CancellationToken.None))];
        // Verification is spread: each quiet period asks one slot's cards, so every card is asked
        // once per VerifyEvery and a change never waits behind a round that asks them all.
        int slots = Math.Max(1, (int)(VerifyEvery / every)), slot = 0;
        Func<string, bool> none = _ => false;
        Func<string, bool> verify = none; // the first round (a new leader's) delivers changes first
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                Volatile.Write(ref preempt, new CancellationTokenSource()); // not disposed: a watch may still cancel the old one
                foreach (CardOutcome o in await Round(verify, cancel, preempt.Token))
                {
                    report(o);
                }

                bool woken = await changed.WaitAsync(every, cancel);
                int current = slot;
                verify = woken ? none : name => (uint)StableHash(name) % (uint)slots == (uint)current;
                slot = woken ? slot : (slot + 1) % slots;
                while (changed.CurrentCount > 0)
                {
                    await changed.WaitAsync(cancel); // one round covers every change seen so far
                }
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                break;
            }
            catch (StoreException e)
            {
                warn(e.Message);
                await Task.Delay(every, cancel).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }

        await Task.WhenAll(watches);
    }
}
