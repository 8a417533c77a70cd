using SnicRuntime.Contracts.Fabric;

namespace SnicRuntime.Management.Fabric;

/// <summary>
/// Which card takes each ENI's traffic, from the cards' announcements (as DASH's NPU routes an
/// ENI to the DPU that advertises it). The newest term among the cards deciding the ENI's scope
/// wins. Moving an ENI to another card waits for the readiness barrier: the new card must say it
/// holds every flow of the scope (Active or Standalone) and run a policy generation at least as new
/// as the old card's. Until then traffic stays where it is; a card that stepped down redirects to
/// its peer, so nothing is lost meanwhile.
/// </summary>
public sealed class FabricSteering
{
    private readonly int[] _cardOf;
    private readonly long[] _termOf;
    private readonly Dictionary<string, int> _eniIndex;

    public FabricSteering(IReadOnlyList<FabricEni> enis, int cards)
    {
        ArgumentNullException.ThrowIfNull(enis);
        _eniIndex = enis.Select((e, i) => (e.Name, i)).ToDictionary(x => x.Name, x => x.i, StringComparer.Ordinal);
        _cardOf = [.. enis.Select(_ => -1)];
        _termOf = new long[enis.Count];
        Statuses = new CardStatus?[cards];
    }

    /// <summary>Each card's last announcement (null: none yet).</summary>
    public CardStatus?[] Statuses { get; }

    /// <summary>The card ENI <paramref name="eni"/> goes to, or -1.</summary>
    public int CardOf(int eni) => _cardOf[eni];

    /// <summary>Every move: (when, ENI, from card, to card, term) — what a run times its takeovers by.</summary>
    public List<(long At, string Eni, int From, int To, long Term)> Moves { get; } = [];

    /// <summary>Recomputes every ENI's card after card <paramref name="card"/> announced <paramref name="status"/>.</summary>
    public void Update(int card, CardStatus status, long now)
    {
        Statuses[card] = status;
        foreach ((string eni, int e) in _eniIndex)
        {
            int best = -1;
            long bestTerm = -1;
            for (int c = 0; c < Statuses.Length; c++)
            {
                ScopeStatus? s = ScopeOf(c, eni);
                if (s is null || !s.Forwarding)
                {
                    continue;
                }

                if (s.Term > bestTerm || (s.Term == bestTerm && c == _cardOf[e]))
                {
                    best = c;
                    bestTerm = s.Term;
                }
            }

            int current = _cardOf[e];
            if (best < 0 || best == current)
            {
                _termOf[e] = best < 0 ? _termOf[e] : bestTerm;
                continue;
            }

            // The barrier: the first card an ENI gets needs only to decide it; a move needs the new
            // card complete (flows and generation).
            if (current >= 0)
            {
                ScopeStatus s = ScopeOf(best, eni)!;
                long oldGeneration = Statuses[current]?.Generation ?? 0;
                if (!s.Ready || Statuses[best]!.Generation < oldGeneration)
                {
                    continue;
                }
            }

            _cardOf[e] = best;
            _termOf[e] = bestTerm;
            Moves.Add((now, eni, current, best, bestTerm));
        }
    }

    private ScopeStatus? ScopeOf(int card, string eni) => Statuses[card]?.Scopes.FirstOrDefault(s => s.Enis.Contains(eni, StringComparer.Ordinal));
}
