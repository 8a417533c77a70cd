using System.Text.Json;

namespace SnicRuntime.Management;

/// <summary>The witness: the one party that may grant a standby a new term when its active is gone (see the remarks on <see cref="HaControl"/>).</summary>
public sealed partial class HaControl
{
    /// <summary>
    /// The witness's agent clients, one per card, kept between rounds: a round is two requests per
    /// scope every few milliseconds, and a new client per request would pay a TCP and a mutual-TLS
    /// handshake each time (measured: takeovers 10-60 ms later on the fabric's kill runs).
    /// </summary>
    private readonly Dictionary<string, AgentClient> _witnessClients = [];

    private readonly Dictionary<string, int> _activeRefused = [];
    private readonly Dictionary<string, DateTimeOffset> _activeLastAnswer = [];

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
}
