using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management.Store;

namespace SnicRuntime.Management.Fleet;

/// <summary>
/// The plan journal, in the store beside the desired plan: every published generation, who
/// published it and when, and what its writes overwrote. It is written by <see cref="DesiredPlan"/>
/// in the transactions that change the plan, so it never disagrees with the desired state.
///
/// Why reverse deltas and not a copy of each plan: a one-ENI change must stay a few small keys
/// (at 10,000 ENIs a whole plan is 14 MB, over etcd's 1.5 MiB request limit, and journaling it per
/// change would make every change cost the whole plan). A generation is rebuilt by taking the
/// current objects and undoing, newest first, every generation after it. Undoing a generation
/// whose writes a reader did not see yet is harmless (it puts back what is already there), so
/// the plan and the journal may be read at two revisions, plan first.
/// </summary>
public sealed class PlanJournal(IStateStore store)
{
    /// <summary>The journaled generations, oldest first.</summary>
    public async Task<IReadOnlyList<JournalRecord>> Generations(CancellationToken cancel = default)
    {
        (IReadOnlyList<StoreEntry> entries, _) = await store.Range(FleetKeys.Journal, cancel);
        return [.. entries.Select(e => FleetJson.Read(e, FleetJson.Default.JournalRecord))];
    }

    /// <summary>The newest complete generation of the desired plan (0 when none was published): one key read.</summary>
    public async Task<long> Latest(CancellationToken cancel = default)
    {
        StoreEntry? marker = await store.Get(FleetKeys.Plan, cancel);
        if (marker is null)
        {
            return 0;
        }

        // A publish being written: the generation before it is the newest one complete.
        PlanMarker m = FleetJson.Read(marker, FleetJson.Default.PlanMarker);
        return m.State == PlanMarker.Complete ? m.Generation ?? 0 : (await Generations(cancel)) is { Count: > 0 } kept ? kept[^1].Generation : 0;
    }

    /// <summary>
    /// Generation <paramref name="generation"/> as it was published; a <see cref="JournalMissException"/>
    /// when the journal does not hold it (never published, or trimmed: the message says which).
    /// </summary>
    public async Task<ChangePlan> Plan(long generation, CancellationToken cancel = default)
    {
        IReadOnlyList<JournalRecord> kept = await Generations(cancel);
        if (!kept.Any(g => g.Generation == generation))
        {
            throw new JournalMissException(kept.Count == 0 ? "the journal is empty: no plan was applied"
                : generation < kept[0].Generation ? $"generation {generation} was trimmed from the journal (it keeps {kept[0].Generation}..{kept[^1].Generation})"
                : $"no generation {generation} in the journal (it holds {kept[0].Generation}..{kept[^1].Generation})");
        }

        // The plan first, then the journal's changes (see the type's comment for why this order).
        (IReadOnlyList<StoreEntry> plan, _) = await store.Range(FleetKeys.PlanObjects, cancel);
        var objects = plan.ToDictionary(e => e.Key[FleetKeys.PlanObjects.Length..], e => e.Value, StringComparer.Ordinal);
        (IReadOnlyList<StoreEntry> changes, _) = await store.Range(FleetKeys.JournalChanges, cancel);
        // Keys sort by generation then chunk: walking them backwards undoes the newest first.
        for (int i = changes.Count - 1; i >= 0; i--)
        {
            if (GenerationOf(changes[i].Key) <= generation)
            {
                break;
            }

            foreach (JournalBefore before in FleetJson.Read(changes[i], FleetJson.Default.JournalChunk).Before)
            {
                if (before.Json is null)
                {
                    objects.Remove(before.Id);
                }
                else
                {
                    objects[before.Id] = Encoding.UTF8.GetBytes(before.Json);
                }
            }
        }

        return PlanObjects.Merge(objects.OrderBy(o => o.Key, StringComparer.Ordinal)
            .Select(o => KeyValuePair.Create(o.Key, DesiredPlan.Parse(o.Key, o.Value))), generation);
    }

    /// <summary>
    /// Keeps the newest <paramref name="keep"/> generations and deletes the rest (and the changes
    /// of publishes interrupted before them); how many generations went. Older generations can
    /// then no longer be shown, which <see cref="Plan"/> says.
    /// </summary>
    public async Task<int> Trim(int keep, CancellationToken cancel = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        IReadOnlyList<JournalRecord> kept = await Generations(cancel);
        if (kept.Count <= keep)
        {
            return 0;
        }

        long oldest = kept[^keep].Generation;
        (IReadOnlyList<StoreEntry> changes, _) = await store.Range(FleetKeys.JournalChanges, cancel);
        List<StoreOp> deletes = [.. changes.Where(c => GenerationOf(c.Key) < oldest).Select(c => StoreOp.Delete(c.Key)),
            .. kept.Where(g => g.Generation < oldest).Select(g => StoreOp.Delete(FleetKeys.JournalEntry(g.Generation)))];
        foreach (StoreOp[] batch in deletes.Chunk(100))
        {
            await store.Txn([], batch, null, cancel);
        }

        return kept.Count - keep;
    }

    internal static StoreOp Entry(JournalRecord entry) =>
        StoreOp.Put(FleetKeys.JournalEntry(entry.Generation), FleetJson.Bytes(entry, FleetJson.Default.JournalRecord));

    internal static StoreOp Chunk(long generation, int chunk, IReadOnlyList<JournalBefore> before) =>
        StoreOp.Put(FleetKeys.JournalChunk(generation, chunk), FleetJson.Bytes(new JournalChunk(generation, before), FleetJson.Default.JournalChunk));

    /// <summary>The digest the journal keeps of a plan's source text.</summary>
    public static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    private static long GenerationOf(string changeKey)
    {
        ReadOnlySpan<char> rest = changeKey.AsSpan(FleetKeys.JournalChanges.Length);
        int slash = rest.IndexOf('/');
        return long.TryParse(slash < 0 ? rest : rest[..slash], NumberStyles.None, CultureInfo.InvariantCulture, out long g) ? g
            : throw new StoreException($"the store's key '{changeKey}' is not a journal change (/journal/changes/GENERATION/CHUNK)");
    }
}

/// <summary>A generation the journal does not hold; the message says why.</summary>
public sealed class JournalMissException(string message) : Exception(message);
