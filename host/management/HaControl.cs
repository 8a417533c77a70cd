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
public sealed partial class HaControl(ManagementStore store, ManagementIdentity? identity = null)
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

        foreach ((string which, string sync) in new[] { ("A", syncA), ("B", syncB) })
        {
            foreach (string endpoint in new[] { HaScopeRecord.SyncBind(sync), HaScopeRecord.SyncReach(sync) }.Distinct())
            {
                if (!System.Net.IPEndPoint.TryParse(endpoint, out System.Net.IPEndPoint? ep) || ep.Port == 0)
                {
                    errors.Add($"card {which}'s replication endpoint '{endpoint}' is not ADDRESS:PORT");
                }
            }
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
            ["sync_local"] = HaScopeRecord.SyncBind(isA ? first.SyncA : first.SyncB),
            ["sync_peer"] = HaScopeRecord.SyncReach(isA ? first.SyncB : first.SyncA),
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
