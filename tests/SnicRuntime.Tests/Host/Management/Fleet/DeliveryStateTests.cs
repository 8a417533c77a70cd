using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Host.Management.Fleet;

/// <summary>
/// The delivery state cuts again only the shares a change touches; whatever the changes, every
/// share it hands out is the one a fresh cut of the whole plan gives (the model it is checked
/// against), and a one-ENI change re-cuts only the set that holds the ENI.
/// </summary>
public sealed class DeliveryStateTests
{
    /// <summary>The store as the state reads it: entries keep their mod revision until their bytes change.</summary>
    private sealed class FakeStore
    {
        private readonly Dictionary<string, StoreEntry> _entries = new(StringComparer.Ordinal);

        public long Revision { get; private set; } = 1;

        public void Write(IEnumerable<KeyValuePair<string, byte[]>> wanted, string prefix)
        {
            Revision++;
            var keys = new HashSet<string>(StringComparer.Ordinal);
            foreach ((string key, byte[] value) in wanted)
            {
                keys.Add(key);
                if (!_entries.TryGetValue(key, out StoreEntry? e) || !e.Value.AsSpan().SequenceEqual(value))
                {
                    _entries[key] = new StoreEntry(key, value, e?.CreateRevision ?? Revision, Revision, (e?.Version ?? 0) + 1, 0);
                }
            }

            foreach (string gone in _entries.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !keys.Contains(k)).ToList())
            {
                _entries.Remove(gone);
            }
        }

        public (IEnumerable<StoreEntry>, long) Under(string prefix) =>
            ([.. _entries.Values.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal))], Revision);
    }

    private static void Store(FakeStore store, ChangePlan plan, Dictionary<string, string> placement, int sets)
    {
        var marker = new PlanMarker(plan.Generation, PlanMarker.Complete, 0, DateTimeOffset.UnixEpoch);
        store.Write([.. PlanObjects.Split(plan).Select(o => KeyValuePair.Create(FleetKeys.PlanObjects + o.Key, o.Value)),
            KeyValuePair.Create(FleetKeys.Plan, FleetJson.Bytes(marker, FleetJson.Default.PlanMarker))], FleetKeys.PlanPrefix);
        store.Write([.. Enumerable.Range(0, sets).Select(s => KeyValuePair.Create(FleetKeys.Set($"s{s}"),
            FleetJson.Bytes(new HaSetRecord($"s{s}", [$"c{2 * s}", $"c{2 * s + 1}"]), FleetJson.Default.HaSetRecord)))], FleetKeys.Sets);
        store.Write([.. placement.Select(p => KeyValuePair.Create(FleetKeys.Eni(p.Key), FleetJson.Bytes(new PlacementRecord(p.Key, p.Value), FleetJson.Default.PlacementRecord)))], FleetKeys.Enis);
    }

    private static DeliveryState.Input Compute(DeliveryState state, FakeStore store) =>
        state.Compute(store.Under(FleetKeys.PlanPrefix), store.Under(FleetKeys.Sets), store.Under(FleetKeys.Enis), store.Under(FleetKeys.Cards));

    /// <summary>Every share as a fresh index of the stored plan cuts it.</summary>
    private static void AssertSharesAreFresh(DeliveryState.Input input, string step)
    {
        PlanSlice fresh = PlanSlice.Index(input.Desired!.Plan!);
        foreach (HaSetView set in input.Sets)
        {
            string expected = PlanDigest.Of(fresh.Share(set.Enis.ToHashSet(StringComparer.Ordinal)));
            Assert.True(expected == input.Shares[set.Set.Name].Sha, $"after {step}: set {set.Set.Name} [{string.Join(",", set.Enis)}] holds a stale share");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Shares_cut_from_a_cache_equal_fresh_cuts_through_random_changes(int seed)
    {
        ChangePlan plan = PlanJson.Parse(File.ReadAllText(TestPaths.Plan("full.json")), out _)!;
        var random = new Random(seed);
        const int Sets = 4;
        var placement = plan.Enis!.ToDictionary(e => e.Name!, e => $"s{random.Next(Sets)}", StringComparer.Ordinal);
        var store = new FakeStore();
        var state = new DeliveryState();
        Store(store, plan, placement, Sets);
        AssertSharesAreFresh(Compute(state, store), "the first read");
        string[] tables = [.. plan.RouteTables!.Select(t => t.Name!)];
        string[] vnets = [.. plan.Vnets!.Select(v => v.Name!)];
        for (int step = 0; step < 60; step++)
        {
            EniSpec eni = plan.Enis![random.Next(plan.Enis.Count)];
            string what;
            switch (random.Next(7))
            {
                case 0:
                    eni.AdminState = eni.AdminState == "up" ? "down" : "up";
                    what = $"ENI {eni.Name} admin state";
                    break;
                case 1:
                    eni.RouteTable = tables[random.Next(tables.Length)];
                    what = $"ENI {eni.Name} route table {eni.RouteTable}";
                    break;
                case 2:
                    string vnet = vnets[random.Next(vnets.Length)];
                    plan.Mappings!.Add(new MappingSpec { Vnet = vnet, Ip = $"10.99.{step}.{random.Next(250)}", UnderlayIp = "172.30.0.1" });
                    what = $"a mapping added to {vnet}";
                    break;
                case 3 when plan.Mappings!.Count > 0:
                    plan.Mappings.RemoveAt(random.Next(plan.Mappings.Count));
                    what = "a mapping removed";
                    break;
                case 4:
                    RouteTableSpec table = plan.RouteTables![random.Next(plan.RouteTables.Count)];
                    table.Routes!.Add(new RouteSpec { Prefix = $"10.{100 + step}.0.0/16", Action = "vnet", Vnet = vnets[random.Next(vnets.Length)] });
                    what = $"a route added to {table.Name}";
                    break;
                case 5:
                    placement[eni.Name!] = $"s{random.Next(Sets)}";
                    what = $"ENI {eni.Name} placed on {placement[eni.Name!]}";
                    break;
                default:
                    plan.Appliance!.Vip = $"172.16.{step}.100";
                    what = "the appliance";
                    break;
            }

            Store(store, plan, placement, Sets);
            AssertSharesAreFresh(Compute(state, store), $"step {step}: {what}");
        }
    }

    [Fact]
    public void A_one_ENI_change_recuts_only_the_set_that_holds_it()
    {
        ChangePlan plan = PlanJson.Parse(File.ReadAllText(TestPaths.Plan("full.json")), out _)!;
        var placement = plan.Enis!.Select((e, i) => (e.Name!, i)).ToDictionary(p => p.Item1, p => $"s{p.i}", StringComparer.Ordinal);
        var store = new FakeStore();
        var state = new DeliveryState();
        Store(store, plan, placement, plan.Enis!.Count);
        DeliveryState.Input before = Compute(state, store);
        EniSpec changed = plan.Enis![0];
        changed.AdminState = changed.AdminState == "up" ? "down" : "up";
        Store(store, plan, placement, plan.Enis.Count);
        DeliveryState.Input after = Compute(state, store);
        AssertSharesAreFresh(after, "the change");
        foreach (HaSetView set in after.Sets)
        {
            bool holds = set.Enis.Contains(changed.Name!);
            Assert.True(holds != ReferenceEquals(before.Shares[set.Set.Name].Plan, after.Shares[set.Set.Name].Plan),
                $"set {set.Set.Name} ({(holds ? "holds" : "does not hold")} {changed.Name}) was {(holds ? "not " : "")}cut again");
        }
    }
}
