using SnicRuntime.Management.Store;

namespace SnicRuntime.Management.Fleet;

/// <summary>
/// The card inventory in the store, so that every controller, on whatever host, can reach every
/// card (the local inventory, <see cref="ManagementStore"/>, is one host's). A card is added once,
/// by compare-and-swap on its key, so two hosts adding the same name never both succeed. The
/// agent token travels with the card: the store is to be secured as the cards are (etcd with TLS
/// and auth, `--store-ca/--store-cert/--store-user`).
/// </summary>
public sealed class FleetInventory(IStateStore store)
{
    /// <summary>Adds <paramref name="card"/>; a name already in the fleet's inventory is refused (<see cref="InvalidOperationException"/>) and nothing is written.</summary>
    public async Task Add(Card card, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(card);
        Placement.CheckName("card", card.Name);
        var record = new InventoryRecord(card.Name, card.Address.ToString(), card.Token, card.Board, card.Role, card.Added);
        TxnResult r = await store.Txn([StoreCompare.Absent(FleetKeys.Inventory(card.Name))],
            [StoreOp.Put(FleetKeys.Inventory(card.Name), FleetJson.Bytes(record, FleetJson.Default.InventoryRecord))], null, cancel);
        if (!r.Succeeded)
        {
            throw new InvalidOperationException($"card '{card.Name}' is already in the fleet's inventory (added from this or another host; `snicctl cards remove {card.Name}` first)");
        }
    }

    /// <summary>Removes a card; false when the fleet's inventory has no card of that name.</summary>
    public async Task<bool> Remove(string name, CancellationToken cancel = default)
    {
        TxnResult r = await store.Txn([StoreCompare.Present(FleetKeys.Inventory(name))], [StoreOp.Delete(FleetKeys.Inventory(name))], null, cancel);
        return r.Succeeded;
    }

    public async Task<IReadOnlyList<Card>> All(CancellationToken cancel = default) =>
        [.. (await store.Range(FleetKeys.Cards, cancel)).Entries.Where(e => IsInventory(e.Key)).Select(Of)];

    /// <summary>
    /// The cards a host can reach: its own inventory, then the fleet's cards it does not hold
    /// (its own entry wins for a name in both: it is the one this host was told to use), by name.
    /// </summary>
    public static IReadOnlyList<Card> Merge(IEnumerable<Card> local, IEnumerable<Card> fleet)
    {
        var byName = new SortedDictionary<string, Card>(StringComparer.Ordinal);
        foreach (Card c in local)
        {
            byName[c.Name] = c;
        }

        foreach (Card c in fleet)
        {
            byName.TryAdd(c.Name, c);
        }

        return [.. byName.Values];
    }

    /// <summary>Whether a key under <see cref="FleetKeys.Cards"/> is a card's inventory entry.</summary>
    public static bool IsInventory(string key) => key.EndsWith("/inventory", StringComparison.Ordinal);

    /// <summary>The card an inventory entry describes.</summary>
    public static Card Of(StoreEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        InventoryRecord r = FleetJson.Read(entry, FleetJson.Default.InventoryRecord);
        return Uri.TryCreate(r.Address, UriKind.Absolute, out Uri? address)
            ? new Card(r.Name, address, r.Token, r.Board, r.Role, r.Added)
            : throw new StoreException($"the store's key '{entry.Key}' holds card address '{r.Address}', which is not a URL");
    }
}
