using System.Diagnostics;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management.Store;

namespace SnicRuntime.Management.Fleet;

/// <summary>
/// What a delivery round works from — the desired plan, the sets and their ENIs, each card's last
/// delivery record, and each set's share with its digest — kept between rounds so that a round
/// costs what changed, not what the fleet holds. Objects are parsed once per store revision of
/// their key; the plan is put back together only when a plan key changed; a set's share is cut
/// again only when its ENIs changed or an object it depends on did (<see cref="PlanSlice.Share"/>
/// names them, <see cref="PlanObjects.Owner"/> maps a changed key to them; a key changed when its
/// mod revision differs from the one parsed). At 10,000 cards a one-ENI change re-cuts one share
/// instead of 5,000.
///
/// Fed either by <see cref="StoreMirror"/>s (the controller's loop) or by one read of the store
/// (a single round); the same code computes both.
/// </summary>
internal sealed class DeliveryState
{
    private readonly SortedDictionary<string, (long Mod, ChangePlan One)> _objects = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SetShare> _shares = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long Mod, DeliveryRecord Record)> _records = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long Mod, Card Card)> _inventory = new(StringComparer.Ordinal);
    private long _planRevision = -1, _setsRevision = -1, _enisRevision = -1, _recordsRevision = -1;
    private PlanSnapshot? _desired;
    private PlanSlice? _slicer;
    private IReadOnlyList<HaSetView> _sets = [];
    private Dictionary<string, DeliveryRecord> _sent = new(StringComparer.Ordinal);
    private Dictionary<string, Card> _cards = new(StringComparer.Ordinal);

    /// <summary>
    /// One set's share as last cut: the ENIs it was cut for, the share, its digest, what it depends
    /// on, and the share it replaced (a card still running that one is sent the difference).
    /// </summary>
    private sealed record SetShare(string Enis, ChangePlan Share, string Sha, HashSet<string> Owners, ChangePlan? Before, string? BeforeSha);

    /// <summary>A set's share for a round: the share and its digest, and the share before it with its digest (none after the first cut).</summary>
    public readonly record struct Share(ChangePlan Plan, string Sha, ChangePlan? Before, string? BeforeSha);

    /// <summary>What one round delivers (and to whom: the fleet's inventory by card name), and where computing it went.</summary>
    public sealed record Input(PlanSnapshot? Desired, IReadOnlyList<HaSetView> Sets, IReadOnlyDictionary<string, DeliveryRecord> Sent, IReadOnlyDictionary<string, Card> Inventory,
        IReadOnlyDictionary<string, Share> Shares, TimeSpan Plan, TimeSpan Placement, TimeSpan Records, TimeSpan Slice);

    /// <summary>
    /// The round's input from the store's current entries: the plan prefix, the sets, the ENI
    /// placements and the cards prefix (where delivery records live), each with its revision.
    /// </summary>
    public Input Compute((IEnumerable<StoreEntry> Entries, long Revision) plan, (IEnumerable<StoreEntry> Entries, long Revision) sets,
        (IEnumerable<StoreEntry> Entries, long Revision) enis, (IEnumerable<StoreEntry> Entries, long Revision) cards)
    {
        var changed = new HashSet<string>(StringComparer.Ordinal); // owners of the plan keys that changed
        long mark = Stopwatch.GetTimestamp();
        TimeSpan Lap()
        {
            long now = Stopwatch.GetTimestamp();
            TimeSpan lap = Stopwatch.GetElapsedTime(mark, now);
            mark = now;
            return lap;
        }

        RefreshPlan(plan.Entries, plan.Revision, changed);
        TimeSpan planTime = Lap();
        bool replaced = false;
        if (sets.Revision != _setsRevision || enis.Revision != _enisRevision)
        {
            ILookup<string, string> placed = enis.Entries.Select(e => FleetJson.Read(e, FleetJson.Default.PlacementRecord)).ToLookup(p => p.Set, p => p.Eni, StringComparer.Ordinal);
            _sets = [.. sets.Entries.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e =>
            {
                HaSetRecord set = FleetJson.Read(e, FleetJson.Default.HaSetRecord);
                return new HaSetView(set, [.. placed[set.Name].Order(StringComparer.Ordinal)], e.ModRevision);
            })];
            (_setsRevision, _enisRevision) = (sets.Revision, enis.Revision);
            replaced = true;
        }

        TimeSpan placementTime = Lap();
        if (cards.Revision != _recordsRevision)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (StoreEntry e in cards.Entries)
            {
                seen.Add(e.Key);
                if (e.Key.EndsWith("/delivery", StringComparison.Ordinal) && (!_records.TryGetValue(e.Key, out var known) || known.Mod != e.ModRevision))
                {
                    _records[e.Key] = (e.ModRevision, FleetJson.Read(e, FleetJson.Default.DeliveryRecord));
                }
                else if (FleetInventory.IsInventory(e.Key) && (!_inventory.TryGetValue(e.Key, out var card) || card.Mod != e.ModRevision))
                {
                    _inventory[e.Key] = (e.ModRevision, FleetInventory.Of(e));
                }
            }

            foreach (string gone in _records.Keys.Concat(_inventory.Keys).Where(k => !seen.Contains(k)).ToList())
            {
                _records.Remove(gone);
                _inventory.Remove(gone);
            }

            _sent = _records.Values.ToDictionary(r => r.Record.Card, r => r.Record, StringComparer.Ordinal);
            _cards = _inventory.Values.ToDictionary(c => c.Card.Name, c => c.Card, StringComparer.Ordinal);
            _recordsRevision = cards.Revision;
        }

        TimeSpan recordsTime = Lap();
        var shares = new Dictionary<string, Share>(StringComparer.Ordinal);
        if (_slicer is not null && _desired?.Plan is not null)
        {
            bool everyone = changed.Contains(PlanSlice.Everyone);
            foreach (HaSetView set in _sets)
            {
                string enisKey = string.Join(',', set.Enis);
                if (!_shares.TryGetValue(set.Set.Name, out SetShare? cut) || cut.Enis != enisKey || everyone || cut.Owners.Overlaps(changed))
                {
                    var owners = new HashSet<string>(StringComparer.Ordinal);
                    ChangePlan share = _slicer.Share(set.Enis.ToHashSet(StringComparer.Ordinal), owners);
                    string sha = PlanDigest.Of(share);
                    _shares[set.Set.Name] = cut = cut is not null && cut.Sha == sha ? cut with { Enis = enisKey, Share = share, Owners = owners }
                        : new SetShare(enisKey, share, sha, owners, cut?.Share, cut?.Sha);
                }

                shares[set.Set.Name] = new Share(cut.Share, cut.Sha, cut.Before, cut.BeforeSha);
            }

            if (replaced)
            {
                var live = _sets.Select(s => s.Set.Name).ToHashSet(StringComparer.Ordinal);
                foreach (string gone in _shares.Keys.Where(k => !live.Contains(k)).ToList())
                {
                    _shares.Remove(gone);
                }
            }
        }

        return new Input(_desired, _sets, _sent, _cards, shares, planTime, placementTime, recordsTime, Lap());
    }

    /// <summary>Brings the plan up to the entries given, adding the owners of the keys that changed to <paramref name="changed"/>.</summary>
    private void RefreshPlan(IEnumerable<StoreEntry> entries, long revision, HashSet<string> changed)
    {
        if (revision == _planRevision)
        {
            return;
        }

        StoreEntry? markerEntry = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var objects = new List<StoreEntry>();
        foreach (StoreEntry e in entries)
        {
            if (e.Key == FleetKeys.Plan)
            {
                markerEntry = e;
            }
            else if (e.Key.StartsWith(FleetKeys.PlanObjects, StringComparison.Ordinal))
            {
                objects.Add(e);
            }
        }

        PlanMarker? marker = markerEntry is null ? null : FleetJson.Read(markerEntry, FleetJson.Default.PlanMarker);
        if (marker is null || marker.State != PlanMarker.Complete)
        {
            // Nothing published, or a publish under way: nothing to deliver until it completes.
            // The objects are compared with what was parsed when it does, so no change is missed.
            _desired = marker is null ? null : new PlanSnapshot(null, marker, revision);
            _slicer = null;
            _planRevision = revision;
            return;
        }

        foreach (StoreEntry e in objects)
        {
            string key = e.Key[FleetKeys.PlanObjects.Length..];
            seen.Add(key);
            if (!_objects.TryGetValue(key, out var known) || known.Mod != e.ModRevision)
            {
                _objects[key] = (e.ModRevision, DesiredPlan.Parse(key, e.Value));
                changed.Add(PlanObjects.Owner(key));
            }
        }

        foreach (string gone in _objects.Keys.Where(k => !seen.Contains(k)).ToList())
        {
            _objects.Remove(gone);
            changed.Add(PlanObjects.Owner(gone));
        }

        ChangePlan plan = PlanObjects.Merge(_objects.Select(o => KeyValuePair.Create(o.Key, o.Value.One)), marker.Generation);
        _desired = new PlanSnapshot(plan, marker, revision);
        _slicer = PlanSlice.Index(plan);
        _planRevision = revision;
    }
}
