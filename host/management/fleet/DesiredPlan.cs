using System.Text;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management.Store;

namespace SnicRuntime.Management.Fleet;

/// <summary>
/// The desired plan in the store, one key per object (<see cref="PlanObjects"/>) under a marker,
/// and the plan journal beside it (<see cref="PlanJournal"/>). Publishing writes only what differs
/// from what is stored: a one-ENI change is one key, the marker and its journal entry, in one
/// transaction. A publish larger than one transaction (etcd allows 128 operations in one by
/// default) marks the plan "writing", writes in batches, then marks it "complete"; every batch
/// rewrites the marker and compares its previous revision, so two publishers racing cannot
/// interleave, and a reader that finds "writing" waits for the end instead of taking half a plan.
///
/// The store owns generation numbers: a publish takes the one after the marker's (or the one the
/// plan asks for, if higher), under the same compare, so controllers and `snicctl apply` on any
/// number of hosts never journal one generation twice. Each batch carries the journal's record of
/// what it overwrote (the values before it), so the journal and the desired state change in the
/// same transactions and cannot disagree.
///
/// An instance remembers what it last published and the marker revision that completed it: its
/// next publish diffs against that instead of reading every object back, and a compare on the
/// marker proves nobody published in between (if someone did, it reads the store and diffs again).
/// At 10,000 ENIs the read is 80,000 keys; a long-lived publisher skips it.
/// </summary>
public sealed class DesiredPlan(IStateStore store)
{
    private (SortedDictionary<string, byte[]> Objects, long Marker, long Generation)? _published;

    /// <summary>Operations per transaction: below etcd's default limit of 128.</summary>
    public int Batch
    {
        get => _batch;
        init => _batch = value >= 3 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "a batch holds at least one object, its journal chunk and the marker");
    }

    private readonly int _batch = 100;

    /// <summary>Who publishes, as the journal names them (default: user@host).</summary>
    public string By { get; init; } = $"{Environment.UserName}@{Environment.MachineName}";

    /// <summary>
    /// Publishes a validated plan as the desired state and journals it; the generation it was
    /// given and the store revision that completed it. The caller validated it (an invalid plan
    /// never reaches the store).
    /// </summary>
    public Task<Published> Publish(string planJson, CancellationToken cancel = default) =>
        Publish(PlanJson.Parse(planJson, out PlanError? error)
            ?? throw new ArgumentException($"the plan does not parse: {error!.Value.Path}: {error.Value.Reason}", nameof(planJson)), PlanJournal.Sha256(planJson), cancel);

    /// <summary>
    /// The same, for a plan already parsed (the caller validated it); <paramref name="sourceSha256"/>
    /// is the digest of the text it came from, kept in the journal. Sets the plan's generation.
    /// </summary>
    public async Task<Published> Publish(ChangePlan plan, string? sourceSha256 = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        SortedDictionary<string, byte[]> wanted = PlanObjects.Split(plan);
        long asked = plan.Generation ?? 0;
        for (int attempt = 0; ; attempt++)
        {
            // What the store holds: what this instance published last, if the marker still says
            // so (the first attempt only); otherwise read back.
            StoreCompare unchanged;
            IEnumerable<KeyValuePair<string, byte[]>> stored;
            long before;
            if (attempt == 0 && _published is { } last)
            {
                unchanged = StoreCompare.ModRevisionIs(FleetKeys.Plan, last.Marker);
                stored = last.Objects;
                before = last.Generation;
            }
            else
            {
                (IReadOnlyList<StoreEntry> entries, _) = await store.Range(FleetKeys.PlanPrefix, cancel);
                StoreEntry? marker = entries.FirstOrDefault(e => e.Key == FleetKeys.Plan);
                unchanged = marker is null ? StoreCompare.Absent(FleetKeys.Plan) : StoreCompare.ModRevisionIs(FleetKeys.Plan, marker.ModRevision);
                before = marker is null ? 0 : FleetJson.Read(marker, FleetJson.Default.PlanMarker).Generation ?? 0;
                stored = entries.Where(e => e.Key.StartsWith(FleetKeys.PlanObjects, StringComparison.Ordinal))
                    .Select(e => KeyValuePair.Create(e.Key[FleetKeys.PlanObjects.Length..], e.Value));
            }

            long generation = Math.Max(asked, before + 1);
            plan.Generation = generation;
            (List<StoreOp> ops, List<JournalBefore> overwritten) = Diff(stored, wanted);
            var entry = new JournalRecord(generation, sourceSha256, DateTimeOffset.UtcNow, By, wanted.Count, ops.Count);
            StoreOp complete = Marker(generation, PlanMarker.Complete, wanted.Count);
            long? done = ops.Count < Batch
                ? await Once(unchanged, ops, overwritten, entry, complete, cancel)
                : await InBatches(unchanged, ops, overwritten, entry, complete, cancel);
            if (done is long revision)
            {
                _published = (wanted, revision, generation); // the marker's revision: its last write completed the publish
                return new Published(generation, revision);
            }

            if (attempt == 5)
            {
                throw new StoreException("the desired plan kept changing under this publish (another `snicctl apply` at the same time?); try again");
            }
        }
    }

    /// <summary>
    /// The writes that turn the stored objects into the wanted ones (changed and new keys put,
    /// missing ones deleted), and what each overwrote (null where the key was new): the journal's
    /// way back.
    /// </summary>
    private static (List<StoreOp> Ops, List<JournalBefore> Overwritten) Diff(IEnumerable<KeyValuePair<string, byte[]>> stored, SortedDictionary<string, byte[]> wanted)
    {
        var ops = new List<StoreOp>();
        var overwritten = new List<JournalBefore>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string id, byte[] value) in stored)
        {
            seen.Add(id);
            if (!wanted.TryGetValue(id, out byte[]? want))
            {
                ops.Add(StoreOp.Delete(FleetKeys.PlanObjects + id));
                overwritten.Add(new JournalBefore(id, Encoding.UTF8.GetString(value)));
            }
            else if (!want.AsSpan().SequenceEqual(value))
            {
                ops.Add(StoreOp.Put(FleetKeys.PlanObjects + id, want));
                overwritten.Add(new JournalBefore(id, Encoding.UTF8.GetString(value)));
            }
        }

        foreach ((string id, byte[] want) in wanted.Where(w => !seen.Contains(w.Key)))
        {
            ops.Add(StoreOp.Put(FleetKeys.PlanObjects + id, want));
            overwritten.Add(new JournalBefore(id, null));
        }

        return (ops, overwritten);
    }

    private async Task<long?> Once(StoreCompare unchanged, List<StoreOp> ops, List<JournalBefore> overwritten, JournalRecord entry, StoreOp complete, CancellationToken cancel)
    {
        List<StoreOp> all = [.. ops];
        if (overwritten.Count > 0)
        {
            all.Add(PlanJournal.Chunk(entry.Generation, 0, overwritten));
        }

        all.Add(PlanJournal.Entry(entry));
        all.Add(complete);
        TxnResult r = await store.Txn([unchanged, StoreCompare.Absent(FleetKeys.JournalEntry(entry.Generation))], all, null, cancel);
        return r.Succeeded ? r.Revision : null;
    }

    private async Task<long?> InBatches(StoreCompare unchanged, List<StoreOp> ops, List<JournalBefore> overwritten, JournalRecord entry, StoreOp complete, CancellationToken cancel)
    {
        long generation = entry.Generation;
        TxnResult writing = await store.Txn([unchanged, StoreCompare.Absent(FleetKeys.JournalEntry(generation))], [Marker(generation, PlanMarker.Writing, 0)], null, cancel);
        if (!writing.Succeeded)
        {
            return null;
        }

        // Every batch rewrites the marker and compares the revision of this publish's previous
        // write: another publisher that started meanwhile made it stale, and this one stops (that
        // one's plan is newer, under a later generation, since this marker names this one); and
        // one that read the objects before a batch here cannot commit its diff, computed from
        // what it read, over objects it did not see. Each batch journals what it overwrote, so an
        // interrupted publish can still be undone by the journal.
        long mine = writing.Revision;
        int size = Batch - 2;
        for (int at = 0, chunk = 0; at < ops.Count; at += size, chunk++)
        {
            int n = Math.Min(size, ops.Count - at);
            List<StoreOp> batch = [.. ops.GetRange(at, n), PlanJournal.Chunk(generation, chunk, overwritten.GetRange(at, n)), Marker(generation, PlanMarker.Writing, 0)];
            TxnResult r = await store.Txn([StoreCompare.ModRevisionIs(FleetKeys.Plan, mine)], batch, null, cancel);
            mine = r.Succeeded ? r.Revision
                : throw new StoreException("another publish of the desired plan started while this one was writing; the newer one stands");
        }

        TxnResult end = await store.Txn([StoreCompare.ModRevisionIs(FleetKeys.Plan, mine)], [PlanJournal.Entry(entry), complete], null, cancel);
        return end.Succeeded ? end.Revision
            : throw new StoreException("another publish of the desired plan started while this one was writing; the newer one stands");
    }

    /// <summary>One stored object; one that does not parse (the store written by hand) is a store error naming its key.</summary>
    internal static ChangePlan Parse(string key, byte[] value)
    {
        try
        {
            return PlanObjects.Parse(key, value);
        }
        catch (InvalidDataException e)
        {
            throw new StoreException("the store's " + e.Message, e);
        }
    }

    private static StoreOp Marker(long? generation, string state, int objects) =>
        StoreOp.Put(FleetKeys.Plan, FleetJson.Bytes(new PlanMarker(generation, state, objects, DateTimeOffset.UtcNow), FleetJson.Default.PlanMarker));

    /// <summary>
    /// The desired plan as one snapshot of the store (marker and objects read together), or null
    /// when none was published; <see cref="PlanSnapshot.Plan"/> is null while a publish is being written.
    /// </summary>
    public async Task<PlanSnapshot?> Read(CancellationToken cancel = default)
    {
        (IReadOnlyList<StoreEntry> entries, long revision) = await store.Range(FleetKeys.PlanPrefix, cancel);
        StoreEntry? markerEntry = entries.FirstOrDefault(e => e.Key == FleetKeys.Plan);
        if (markerEntry is null)
        {
            return null;
        }

        PlanMarker marker = FleetJson.Read(markerEntry, FleetJson.Default.PlanMarker);
        if (marker.State != PlanMarker.Complete)
        {
            return new PlanSnapshot(null, marker, revision);
        }

        ChangePlan plan = PlanObjects.Merge(entries.Where(e => e.Key.StartsWith(FleetKeys.PlanObjects, StringComparison.Ordinal))
            .Select(e => (Key: e.Key[FleetKeys.PlanObjects.Length..], e.Value)).OrderBy(o => o.Key, StringComparer.Ordinal)
            .Select(o => KeyValuePair.Create(o.Key, Parse(o.Key, o.Value))), marker.Generation);
        return new PlanSnapshot(plan, marker, revision);
    }
}

/// <summary>What a publish gave the plan: its generation, and the store revision that completed it.</summary>
public readonly record struct Published(long Generation, long Revision);

/// <summary>The desired plan as read at one store revision; no plan while a publish is still being written.</summary>
public sealed record PlanSnapshot(ChangePlan? Plan, PlanMarker Marker, long Revision);
