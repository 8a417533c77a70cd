using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SnicRuntime.Management;

/// <summary>What happened at one card for an HA command.</summary>
public sealed record HaCardOutcome(string Card, bool Ok, string Detail);

/// <summary>
/// HA from the management plane: pair two cards (key, scopes, terms, replication endpoints),
/// unpair them, planned switchover of a scope (a new term, the active hands over first), and the
/// witness: the one party that may grant a standby a new term when the active is gone.
/// </summary>
/// <remarks>
/// The witness grants only when the standby has lost its peer AND the active is gone for the
/// management plane too: its agent refused the connection (nothing listens: the process is dead)
/// in <see cref="WitnessRounds"/> rounds in a row, or it has not answered for longer than the
/// cards' witness silence (<see cref="CardWitnessSilence"/>) plus a margin — by then an active that
/// is merely cut off has stopped forwarding on its side (it hears neither peer nor witness), so a
/// partition never leaves two cards forwarding a scope.
/// </remarks>
public sealed class HaControl(ManagementStore store, ManagementIdentity? identity = null)
{
    /// <summary>Consecutive witness rounds the active must be unreachable before its standby gets a term.</summary>
    public int WitnessRounds { get; init; } = 2;

    /// <summary>The cards' witness silence (HaPairing.WitnessSilenceMs, 500 ms by default).</summary>
    public TimeSpan CardWitnessSilence { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Where terms are granted by compare-and-swap (the fleet store); null: this process's inventory alone decides.</summary>
    public Fleet.TermGrants? Terms { get; init; }

    /// <summary>The election this witness acts under: its grants carry the leader's fence, so a deposed witness grants nothing.</summary>
    public Fleet.ControllerElection? Election { get; init; }

    /// <summary>Probe interval the pairing gives the cards (the BFD-like liveness between them).</summary>
    public int ProbeIntervalMs { get; init; } = 10;

    /// <summary>Probes missed before a card declares its peer lost: detection takes interval × multiplier.</summary>
    public int ProbeMultiplier { get; init; } = 8;

    /// <summary>How often the witness looks while an active does not answer (its usual pace is the interval <see cref="RunWitness"/> is given).</summary>
    public TimeSpan SuspectInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// The witness's agent clients, one per card, kept between rounds: a round is two requests per
    /// scope every few milliseconds, and a new client per request would pay a TCP and a mutual-TLS
    /// handshake each time (measured: takeovers 10-60 ms later on the fabric's kill runs).
    /// </summary>
    private readonly Dictionary<string, AgentClient> _witnessClients = [];

    private readonly Dictionary<string, int> _activeRefused = [];
    private readonly Dictionary<string, DateTimeOffset> _activeLastAnswer = [];

    /// <summary>
    /// Pairs <paramref name="cardA"/> with <paramref name="cardB"/>. Each scope starts active on
    /// the card it names (null: card A), so each card can be active for some ENIs and standby for
    /// the others from the start.
    /// </summary>
    public async Task<(IReadOnlyList<string> Errors, IReadOnlyList<HaCardOutcome> Cards)> Pair(string cardA, string cardB,
        IReadOnlyList<(string Name, IReadOnlyList<string> Enis, string? Active)> scopes, string syncA, string syncB, string underlayA, string underlayB, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(scopes);
        var errors = new List<string>();
        Card? a = store.FindCard(cardA), b = store.FindCard(cardB);
        if (a is null || b is null)
        {
            errors.Add($"no card named '{(a is null ? cardA : cardB)}' (snicctl cards list)");
        }

        if (cardA == cardB)
        {
            errors.Add("a card cannot be paired with itself");
        }

        if (scopes.Count == 0)
        {
            errors.Add("at least one --scope NAME=ENI[,ENI...]");
        }

        IReadOnlyList<HaScopeRecord> existing = store.HaScopes();
        foreach ((string name, _, string? active) in scopes)
        {
            if (existing.Any(s => s.Scope == name))
            {
                errors.Add($"HA scope '{name}' already exists");
            }

            if (active is not null && active != cardA && active != cardB)
            {
                errors.Add($"HA scope '{name}' is to start active on '{active}', which is neither '{cardA}' nor '{cardB}'");
            }
        }

        foreach (var twice in scopes.GroupBy(s => s.Name).Where(g => g.Count() > 1))
        {
            errors.Add($"HA scope '{twice.Key}' is given more than once");
        }

        foreach (var shared in scopes.SelectMany(s => s.Enis.Select(e => (Eni: e, s.Name))).GroupBy(x => x.Eni).Where(g => g.Select(x => x.Name).Distinct().Count() > 1))
        {
            errors.Add($"ENI '{shared.Key}' is in more than one scope ({string.Join(", ", shared.Select(x => x.Name).Distinct())}): an ENI has one HA scope");
        }

        if (existing.Any(s => s.CardA == cardA || s.CardB == cardA || s.CardA == cardB || s.CardB == cardB))
        {
            errors.Add($"'{cardA}' or '{cardB}' is already paired (snicctl ha unpair first)");
        }

        if (errors.Count != 0)
        {
            return (errors, []);
        }

        string key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        foreach ((string name, IReadOnlyList<string> enis, string? active) in scopes)
        {
            store.AddHaScope(new HaScopeRecord(name, cardA, cardB, active ?? cardA, 1, enis, key, syncA, syncB, underlayA, underlayB));
        }

        var outcomes = new List<HaCardOutcome>();
        foreach (Card card in new[] { a!, b! })
        {
            AgentReply reply = await Call(card, HttpMethod.Put, "/v1/ha", PairingFor(card.Name), cancel).ConfigureAwait(false);
            outcomes.Add(Outcome(card.Name, reply));
        }

        return ([], outcomes);
    }

    /// <summary>The pairing document for <paramref name="card"/>: every scope it shares with its peer, its role and term in each.</summary>
    public string PairingFor(string card)
    {
        var scopes = store.HaScopes().Where(s => s.CardA == card || s.CardB == card).ToList();
        HaScopeRecord first = scopes[0];
        bool isA = first.CardA == card;
        var doc = new JsonObject
        {
            ["card_id"] = isA ? 1 : 2,
            ["peer_id"] = isA ? 2 : 1,
            ["key"] = first.Key,
            ["sync_local"] = isA ? first.SyncA : first.SyncB,
            ["sync_peer"] = isA ? first.SyncB : first.SyncA,
            ["local_underlay"] = isA ? first.UnderlayA : first.UnderlayB,
            ["peer_underlay"] = isA ? first.UnderlayB : first.UnderlayA,
            ["probe_interval_ms"] = ProbeIntervalMs,
            ["probe_multiplier"] = ProbeMultiplier,
            ["scopes"] = new JsonArray([.. scopes.Select(s => (JsonNode)new JsonObject
            {
                ["name"] = s.Scope,
                ["enis"] = new JsonArray([.. s.Enis.Select(e => (JsonNode)JsonValue.Create(e)!)]),
                ["role"] = s.Active == card ? "active" : "standby",
                ["term"] = s.Term,
            })]),
        };
        return doc.ToJsonString();
    }

    /// <summary>Planned switchover of <paramref name="scope"/>: the next term; the active hands over first, then the standby takes it.</summary>
    public async Task<(string? Error, IReadOnlyList<HaCardOutcome> Cards)> Switchover(string scope, CancellationToken cancel = default)
    {
        // A scope by name, or the scope that holds the ENI of that name.
        IReadOnlyList<HaScopeRecord> all = store.HaScopes();
        HaScopeRecord? s = all.FirstOrDefault(x => x.Scope == scope) ?? all.FirstOrDefault(x => x.Enis.Contains(scope));
        if (s is null)
        {
            return ($"no HA scope and no ENI in one named '{scope}' (snicctl ha show)", []);
        }

        scope = s.Scope;

        long term = s.Term + 1;
        if (Terms is not null)
        {
            // The store's quorum issues the term, as for a takeover: one term, one card.
            (string? refused, long stored) = await GrantInStore(s, cancel).ConfigureAwait(false);
            if (refused is not null)
            {
                return (refused, []);
            }

            term = stored;
        }

        string body = $"{{\"term\": {term}}}";
        var outcomes = new List<HaCardOutcome>();
        foreach (string name in new[] { s.Active, s.Standby })
        {
            Card? card = store.FindCard(name);
            if (card is null)
            {
                return ($"card '{name}' of scope '{scope}' is no longer in the inventory", outcomes);
            }

            AgentReply reply = await Call(card, HttpMethod.Post, $"/v1/ha/scopes/{Uri.EscapeDataString(scope)}/switchover", body, cancel).ConfigureAwait(false);
            outcomes.Add(Outcome(name, reply));
            if (!reply.Ok)
            {
                return ($"card '{name}' did not take the switchover of '{scope}': {outcomes[^1].Detail}", outcomes);
            }
        }

        store.MoveHaScope(scope, s.Standby, term);
        return (null, outcomes);
    }

    /// <summary>Unpairs two cards: both forget the pairing (their scopes go alone) and the scopes leave the inventory.</summary>
    public async Task<IReadOnlyList<HaCardOutcome>> Unpair(string cardA, string cardB, CancellationToken cancel = default)
    {
        var outcomes = new List<HaCardOutcome>();
        foreach (string name in new[] { cardA, cardB })
        {
            Card? card = store.FindCard(name);
            outcomes.Add(card is null ? new HaCardOutcome(name, false, "not in the inventory")
                : Outcome(name, await Call(card, HttpMethod.Delete, "/v1/ha", null, cancel).ConfigureAwait(false)));
        }

        store.RemoveHaScopes(cardA, cardB);
        return outcomes;
    }

    /// <summary>Each card's GET /v1/ha (null body when it did not answer, with the reason).</summary>
    public async Task<IReadOnlyList<(string Card, AgentReply Reply)>> Status(CancellationToken cancel = default)
    {
        var cards = store.HaScopes().SelectMany(s => new[] { s.CardA, s.CardB }).Distinct().ToList();
        var list = new List<(string, AgentReply)>();
        foreach (string name in cards)
        {
            Card? card = store.FindCard(name);
            if (card is not null)
            {
                list.Add((name, await Call(card, HttpMethod.Get, "/v1/ha", null, cancel).ConfigureAwait(false)));
            }
        }

        return list;
    }

    /// <summary>
    /// One witness round: reach both cards of every scope (which is also the witness's liveness
    /// signal to them); grant the standby the next term when it lost its peer and the active has
    /// been unreachable here too for <see cref="WitnessRounds"/> rounds. Returns the grants made.
    /// </summary>
    public async Task<IReadOnlyList<string>> WitnessRound(CancellationToken cancel = default)
    {
        var grants = new List<string>();
        IReadOnlyList<HaScopeRecord> scopes = store.HaScopes();
        // Every card once per round, all at once: the visit is each card's witness signal, and a
        // round as slow as its slowest card (not the sum of them) keeps the visits frequent.
        var visits = new Dictionary<string, Task<AgentReply>>(StringComparer.Ordinal);
        foreach (HaScopeRecord s in scopes)
        {
            foreach (string name in new[] { s.Active, s.Standby })
            {
                if (!visits.ContainsKey(name) && store.FindCard(name) is Card card)
                {
                    visits[name] = WitnessClient(card).Get("/v1/ha", cancel);
                }
            }
        }

        await Task.WhenAll(visits.Values).ConfigureAwait(false);
        foreach (HaScopeRecord s in scopes)
        {
            Card? active = store.FindCard(s.Active), standby = store.FindCard(s.Standby);
            if (active is null || standby is null)
            {
                continue;
            }

            AgentReply a = await visits[s.Active].ConfigureAwait(false);
            AgentReply b = await visits[s.Standby].ConfigureAwait(false);
            DateTimeOffset now = DateTimeOffset.UtcNow;
            _activeLastAnswer.TryAdd(s.Scope, now); // first round: count silence from here
            if (a.Status == 0)
            {
                _activeRefused[s.Scope] = a.ConnectionRefused ? _activeRefused.GetValueOrDefault(s.Scope) + 1 : 0;
            }
            else
            {
                _activeRefused[s.Scope] = 0;
                _activeLastAnswer[s.Scope] = now;
            }

            bool activeGone = a.Status == 0 && (_activeRefused[s.Scope] >= WitnessRounds
                || now - _activeLastAnswer[s.Scope] > CardWitnessSilence + TimeSpan.FromMilliseconds(200));
            if (!activeGone || !b.Ok || b.Body!.Value.GetProperty("peer_up").GetBoolean())
            {
                continue;
            }

            JsonElement scope = b.Body.Value.GetProperty("scopes").EnumerateArray().FirstOrDefault(x => x.GetProperty("name").GetString() == s.Scope);
            if (scope.ValueKind != JsonValueKind.Object || scope.GetProperty("state").GetString() is not ("Standby" or "SwitchingToActive"))
            {
                continue;
            }

            long term = s.Term + 1;
            if (Terms is not null)
            {
                (string? refused, long stored) = await GrantInStore(s, cancel).ConfigureAwait(false);
                if (refused is not null)
                {
                    grants.Add(refused);
                    continue;
                }

                term = stored;
            }

            AgentReply granted = await CommandClient(standby).Send(HttpMethod.Post, $"/v1/ha/scopes/{Uri.EscapeDataString(s.Scope)}/takeover", $"{{\"term\": {term}}}", cancel).ConfigureAwait(false);
            if (!granted.Ok)
            {
                grants.Add($"scope '{s.Scope}': '{s.Active}' is gone but '{s.Standby}' did not take term {term}: {Outcome(s.Standby, granted).Detail}");
                continue;
            }

            if (store.MoveHaScope(s.Scope, s.Standby, term))
            {
                grants.Add($"scope '{s.Scope}': '{s.Active}' unreachable and its peer lost it; '{s.Standby}' takes over with term {term}");
                _activeRefused[s.Scope] = 0;
                _activeLastAnswer.Remove(s.Scope);
            }
        }

        return grants;
    }

    /// <summary>
    /// Takes the next term for the standby in the store, compare-and-swap on the term record and
    /// this controller's fence: the store's quorum decides, so two witnesses never grant one scope
    /// twice. A scope the store has not seen yet starts from what the inventory says.
    /// </summary>
    private async Task<(string? Refused, long Term)> GrantInStore(HaScopeRecord s, CancellationToken cancel)
    {
        Store.StoreCompare? fence = Election?.FenceCompare;
        if (Election is { IsLeader: false })
        {
            return ($"scope '{s.Scope}': not granted, this controller no longer leads", 0);
        }

        (Fleet.TermRecord? seen, long revision) = await Terms!.Read(s.Scope, cancel).ConfigureAwait(false);
        if (seen is null)
        {
            await Terms.Create(s.Scope, s.Active, fence, cancel).ConfigureAwait(false);
            (seen, revision) = await Terms.Read(s.Scope, cancel).ConfigureAwait(false);
        }

        if (seen is null || seen.Active != s.Active || seen.Term != s.Term)
        {
            // Another controller (or an operator) moved the scope: follow the store, decide next round.
            if (seen is not null && seen.Term > s.Term)
            {
                store.MoveHaScope(s.Scope, seen.Active, seen.Term);
            }

            return ($"scope '{s.Scope}': the store holds term {seen?.Term} on '{seen?.Active}', not {s.Term} on '{s.Active}'; following it", 0);
        }

        Fleet.TermGrant g = await Terms.Grant(seen, revision, s.Standby, fence, cancel).ConfigureAwait(false);
        return g.Granted ? (null, g.Current.Term) : ($"scope '{s.Scope}': term {s.Term + 1} not granted to '{s.Standby}': {g.Why}", 0);
    }

    /// <summary>Runs witness rounds every <paramref name="interval"/> until cancelled, reporting grants.</summary>
    public async Task RunWitness(TimeSpan interval, Action<string> report, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(report);
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                long started = System.Diagnostics.Stopwatch.GetTimestamp();
                foreach (string g in await WitnessRound(cancel).ConfigureAwait(false))
                {
                    report(g);
                }

                // A round slower than half the cards' witness silence risks a survivor fencing
                // itself for want of a visit: an operator should hear of it.
                TimeSpan took = System.Diagnostics.Stopwatch.GetElapsedTime(started);
                if (took > CardWitnessSilence / 2)
                {
                    report($"round took {took.TotalMilliseconds:F0} ms (cards fence themselves after {CardWitnessSilence.TotalMilliseconds:F0} ms without a visit)");
                }

                // An active that stopped answering is looked at again soon: its standby's takeover
                // waits for this witness, not for the usual pace.
                bool suspect = _activeRefused.Values.Any(n => n > 0);
                await Task.Delay(suspect ? SuspectInterval : interval, cancel).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException or Store.StoreException)
            {
                // A card answering in a form this version does not read: say so, keep witnessing.
                report($"round failed: {e.Message}");
                await Task.Delay(interval, cancel).ConfigureAwait(false);
            }
        }
    }

    private AgentClient WitnessClient(Card card) => CachedClient(card, TimeSpan.FromMilliseconds(200));

    // The grant itself: a new TLS session here would add a handshake to every takeover.
    private AgentClient CommandClient(Card card) => CachedClient(card, TimeSpan.FromSeconds(10));

    private AgentClient CachedClient(Card card, TimeSpan timeout)
    {
        string key = $"{card.Name} {card.Address} {timeout.TotalMilliseconds}";
        lock (_witnessClients)
        {
            if (!_witnessClients.TryGetValue(key, out AgentClient? client))
            {
                client = new AgentClient(card, timeout, identity);
                _witnessClients[key] = client;
            }

            return client;
        }
    }

    private async Task<AgentReply> Call(Card card, HttpMethod method, string path, string? body, CancellationToken cancel, TimeSpan? timeout = null)
    {
        using var client = new AgentClient(card, timeout ?? TimeSpan.FromSeconds(10), identity);
        return await client.Send(method, path, body, cancel).ConfigureAwait(false);
    }

    private static HaCardOutcome Outcome(string card, AgentReply reply)
    {
        if (reply.Ok)
        {
            return new HaCardOutcome(card, true, "");
        }

        string detail = reply.Reason;
        if (reply.Body is JsonElement b && b.TryGetProperty("errors", out JsonElement errs) && errs.ValueKind == JsonValueKind.Array)
        {
            detail += ": " + string.Join("; ", errs.EnumerateArray().Select(e => $"{e.GetProperty("path").GetString()}: {e.GetProperty("reason").GetString()}"));
        }
        else if (reply.Body is JsonElement t && t.TryGetProperty("why", out JsonElement why))
        {
            detail += ": " + why.GetString();
        }

        return new HaCardOutcome(card, false, detail);
    }
}
