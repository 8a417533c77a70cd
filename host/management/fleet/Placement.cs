using System.Text;
using SnicRuntime.Management.Store;

namespace SnicRuntime.Management.Fleet;

/// <summary>A placement request the fleet refuses (unknown set or ENI, an ENI placed twice, a card in two sets), in words that name the culprit.</summary>
public sealed class PlacementException(string message) : Exception(message);

/// <summary>An HA set with the ENIs placed on it.</summary>
public sealed record HaSetView(HaSetRecord Set, IReadOnlyList<string> Enis, long ModRevision);

/// <summary>
/// HA sets and where each ENI is placed, in the store. Every change is one compare-and-swap
/// transaction over the few keys it touches: creating a set also claims its cards (a card is in one
/// set), placing an ENI requires the set to still exist and the ENI to be unplaced (or, for a move,
/// still where it was read), so two operators or controllers racing never half-apply or double-place.
///
/// Spreading policy, when no set is named: the set with the fewest ENIs, ties broken by name — the
/// ENI limits of a plan are per ENI and equal by default, so counting ENIs is counting load.
/// </summary>
public sealed class Placement(IStateStore store)
{
    public async Task<HaSetRecord> CreateSet(string name, IReadOnlyList<string> cards, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(cards);
        CheckName("set", name);
        if (cards.Count != 2 || cards[0] == cards[1])
        {
            throw new PlacementException($"set '{name}': an HA set is two different cards (--cards A,B), not {string.Join(",", cards)}");
        }

        foreach (string card in cards)
        {
            CheckName("card", card);
        }

        var set = new HaSetRecord(name, cards);
        TxnResult r = await store.Txn(
            [StoreCompare.Absent(FleetKeys.Set(name)), StoreCompare.Absent(FleetKeys.SetOfCard(cards[0])), StoreCompare.Absent(FleetKeys.SetOfCard(cards[1]))],
            [StoreOp.Put(FleetKeys.Set(name), FleetJson.Bytes(set, FleetJson.Default.HaSetRecord)),
             StoreOp.Put(FleetKeys.SetOfCard(cards[0]), Encoding.UTF8.GetBytes(name)),
             StoreOp.Put(FleetKeys.SetOfCard(cards[1]), Encoding.UTF8.GetBytes(name))], null, cancel);
        if (r.Succeeded)
        {
            return set;
        }

        if (await store.Get(FleetKeys.Set(name), cancel) is not null)
        {
            throw new PlacementException($"set '{name}' already exists (snicctl sets show {name})");
        }

        foreach (string card in cards)
        {
            if (await store.Get(FleetKeys.SetOfCard(card), cancel) is StoreEntry taken)
            {
                throw new PlacementException($"card '{card}' is already in set '{Encoding.UTF8.GetString(taken.Value)}'; a card belongs to one set");
            }
        }

        throw new PlacementException($"set '{name}' changed while it was being created; try again");
    }

    public async Task<IReadOnlyList<HaSetView>> Sets(CancellationToken cancel = default)
    {
        (IReadOnlyList<StoreEntry> sets, _) = await store.Range(FleetKeys.Sets, cancel);
        // Grouped once: with thousands of sets, a scan of every placement per set is what would grow.
        ILookup<string, string> enis = (await Enis(cancel)).ToLookup(p => p.Set, p => p.Eni, StringComparer.Ordinal);
        return [.. sets.Select(e =>
        {
            HaSetRecord set = FleetJson.Read(e, FleetJson.Default.HaSetRecord);
            return new HaSetView(set, [.. enis[set.Name]], e.ModRevision);
        })];
    }

    public async Task<HaSetView> Set(string name, CancellationToken cancel = default) =>
        (await Sets(cancel)).FirstOrDefault(s => s.Set.Name == name) ?? throw new PlacementException($"no set named '{name}' (snicctl sets list)");

    public async Task<IReadOnlyList<PlacementRecord>> Enis(CancellationToken cancel = default) =>
        [.. (await store.Range(FleetKeys.Enis, cancel)).Entries.Select(e => FleetJson.Read(e, FleetJson.Default.PlacementRecord))];

    /// <summary>
    /// Places <paramref name="eni"/> on <paramref name="set"/> (null: by the spreading policy).
    /// An ENI already placed is refused unless <paramref name="move"/>; <paramref name="eniKnown"/>
    /// says whether desired state names the ENI at all.
    /// </summary>
    public async Task<PlacementRecord> Place(string eni, string? set, bool move, Func<string, bool> eniKnown, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(eniKnown);
        CheckName("ENI", eni);
        if (!eniKnown(eni))
        {
            throw new PlacementException($"no ENI named '{eni}' in the desired state (apply a plan that names it first)");
        }

        // A named set is one read; only the spreading policy needs every set and its load.
        HaSetView target;
        if (set is null)
        {
            target = (await Sets(cancel)).OrderBy(s => s.Enis.Count).ThenBy(s => s.Set.Name, StringComparer.Ordinal).FirstOrDefault()
                ?? throw new PlacementException("there is no HA set to place ENIs on (snicctl sets create)");
        }
        else
        {
            CheckName("set", set);
            StoreEntry named = await store.Get(FleetKeys.Set(set), cancel) ?? throw new PlacementException($"no set named '{set}' (snicctl sets list)");
            target = new HaSetView(FleetJson.Read(named, FleetJson.Default.HaSetRecord), [], named.ModRevision);
        }

        StoreEntry? placed = await store.Get(FleetKeys.Eni(eni), cancel);
        PlacementRecord? was = placed is null ? null : FleetJson.Read(placed, FleetJson.Default.PlacementRecord);
        if (was is not null && !move)
        {
            throw new PlacementException($"ENI '{eni}' is already placed on set '{was.Set}' (snicctl eni place {eni} --set SET --move to move it)");
        }

        var record = new PlacementRecord(eni, target.Set.Name);
        TxnResult r = await store.Txn(
            [placed is null ? StoreCompare.Absent(FleetKeys.Eni(eni)) : StoreCompare.ModRevisionIs(FleetKeys.Eni(eni), placed.ModRevision),
             StoreCompare.ModRevisionIs(FleetKeys.Set(target.Set.Name), target.ModRevision)],
            [StoreOp.Put(FleetKeys.Eni(eni), FleetJson.Bytes(record, FleetJson.Default.PlacementRecord))], null, cancel);
        return r.Succeeded ? record : throw new PlacementException($"ENI '{eni}' or set '{target.Set.Name}' changed while placing; nothing was changed, try again");
    }

    /// <summary>Names are path segments of store keys: letters, digits and <c>.-_:</c> only.</summary>
    internal static void CheckName(string what, string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 128 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or ':'))
        {
            throw new PlacementException($"{what} name '{name}' is not valid (1-128 of letters, digits, '.', '-', '_', ':')");
        }
    }
}
