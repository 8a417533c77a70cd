using SnicRuntime.Management.Store;

namespace SnicRuntime.Management.Fleet;

/// <summary>The outcome of a term grant: granted, or refused with why (another grant came first, or the grantor no longer leads).</summary>
public readonly record struct TermGrant(bool Granted, TermRecord Current, string Why);

/// <summary>
/// HA terms granted by compare-and-swap in the store, so the failover witness is the store's
/// quorum and not one process: a grant of term T+1 to a card succeeds only if the scope's record
/// is still the one read (term T) and, for a controller, only while it still leads (its fence).
/// Two controllers racing can therefore never grant one scope's term to two cards, and a deposed
/// controller's grant changes nothing.
/// </summary>
public sealed class TermGrants(IStateStore store)
{
    /// <summary>The scope's current record, or null when no term was ever granted.</summary>
    public async Task<(TermRecord? Record, long ModRevision)> Read(string scope, CancellationToken cancel = default)
    {
        StoreEntry? e = await store.Get(FleetKeys.Term(scope), cancel);
        return e is null ? (null, 0) : (FleetJson.Read(e, FleetJson.Default.TermRecord), e.ModRevision);
    }

    /// <summary>Records the first term of a new scope (term 1 to <paramref name="active"/>); refused when the scope already has one.</summary>
    public async Task<TermGrant> Create(string scope, string active, StoreCompare? fence = null, CancellationToken cancel = default)
    {
        var record = new TermRecord(scope, active, 1);
        List<StoreCompare> compares = [StoreCompare.Absent(FleetKeys.Term(scope))];
        if (fence is not null)
        {
            compares.Add(fence);
        }

        TxnResult r = await store.Txn(compares, [StoreOp.Put(FleetKeys.Term(scope), FleetJson.Bytes(record, FleetJson.Default.TermRecord))], null, cancel);
        return r.Succeeded ? new TermGrant(true, record, "") : await Refused(scope, fence, cancel);
    }

    /// <summary>
    /// Grants <paramref name="card"/> the term after <paramref name="seen"/>, if the scope is still
    /// at <paramref name="seen"/> (read at <paramref name="seenRevision"/>) and the fence holds.
    /// </summary>
    public async Task<TermGrant> Grant(TermRecord seen, long seenRevision, string card, StoreCompare? fence = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(seen);
        var next = new TermRecord(seen.Scope, card, seen.Term + 1);
        List<StoreCompare> compares = [StoreCompare.ModRevisionIs(FleetKeys.Term(seen.Scope), seenRevision)];
        if (fence is not null)
        {
            compares.Add(fence);
        }

        TxnResult r = await store.Txn(compares, [StoreOp.Put(FleetKeys.Term(seen.Scope), FleetJson.Bytes(next, FleetJson.Default.TermRecord))], null, cancel);
        return r.Succeeded ? new TermGrant(true, next, "") : await Refused(seen.Scope, fence, cancel);
    }

    private async Task<TermGrant> Refused(string scope, StoreCompare? fence, CancellationToken cancel)
    {
        (TermRecord? now, _) = await Read(scope, cancel);
        if (fence is not null)
        {
            StoreEntry? leader = await store.Get(fence.Key, cancel);
            if (leader is null || leader.ModRevision != fence.Number)
            {
                return new TermGrant(false, now ?? new TermRecord(scope, "", 0), "this controller no longer leads (its fence revision is gone)");
            }
        }

        return new TermGrant(false, now ?? new TermRecord(scope, "", 0),
            now is null ? $"scope '{scope}' has no term" : $"scope '{scope}' moved on first: term {now.Term} is held by '{now.Active}'");
    }
}
