using System.Diagnostics;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;
using SnicRuntime.TestKit;
using SnicRuntime.TestKit.Store;

namespace SnicRuntime.Bench;

/// <summary>
/// The fleet past what one machine can run as processes (issue 21's <c>fleet sim</c>): the real
/// store (a 3-member etcd cluster), the real leader (election and delivery, in this process) and
/// N simulated card endpoints (<see cref="SimulatedCards"/>). One tenant per HA set: its VNET,
/// route table, two ENIs and their mappings, so a share stays the size of one tenant whatever N is.
/// Prints the snapshot time, the one-ENI delta p50/p99 and what the fleet's state weighs in the store.
/// </summary>
internal static class FleetSim
{
    public static async Task Run(int cards, int changes)
    {
        string dir = Directory.CreateTempSubdirectory("snic-fleet-sim-").FullName;
        try
        {
            var phase = Stopwatch.StartNew();
            using var etcd = new EtcdCluster(3);
            await using IStateStore store = StateStores.Open(StoreAddress.Parse($"etcd://{etcd.Endpoints}/fleet"));
            await using SimulatedCards sim = await SimulatedCards.Start(cards);
            void Phase(string what)
            {
                Console.Error.WriteLine($"fleet sim cards={cards}: {what} in {phase.Elapsed.TotalSeconds:0.0} s");
                phase.Restart();
            }

            Phase("etcd and the card endpoints started");
            using var inventory = new ManagementStore(Path.Combine(dir, "state.db"));
            for (int i = 0; i < cards; i++)
            {
                inventory.AddCard(new Card($"card{i}", sim.Addresses[i], sim.Tokens[i], "emulated", "standalone", DateTimeOffset.UtcNow));
            }

            Phase("inventory written");
            int sets = cards / 2;
            var placement = new Placement(store);
            await Parallel.ForAsync(0, sets, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (s, cancel) =>
            {
                await placement.CreateSet($"s{s}", [$"card{2 * s}", $"card{2 * s + 1}"], cancel);
                await placement.Place($"eni{2 * s}", $"s{s}", false, _ => true, cancel);
                await placement.Place($"eni{2 * s + 1}", $"s{s}", false, _ => true, cancel);
            });

            Phase("sets created and ENIs placed");
            ChangePlan plan = Tenants(sets);
            var errors = new List<PlanError>();
            var validate = Stopwatch.StartNew();
            if (PlanValidator.Validate(plan, errors, scope: PlanScope.Fleet) is null)
            {
                throw new InvalidOperationException("the simulated plan is invalid: " + string.Join("; ", errors.Take(3).Select(e => e.Path + ": " + e.Reason)));
            }

            double validateMs = validate.Elapsed.TotalMilliseconds;
            var publish = Stopwatch.StartNew();
            var desired = new DesiredPlan(store); // one publisher: it diffs against what it published last
            await desired.Publish(plan);
            double publishMs = publish.Elapsed.TotalMilliseconds;

            using var stop = new CancellationTokenSource();
            var election = new ControllerElection(store, "sim-controller");
            var rounds = new System.Collections.Concurrent.ConcurrentQueue<RoundTrace>();
            await using var delivery = new FleetDelivery(store, inventory, null, election) { CardTimeout = TimeSpan.FromSeconds(30), Traced = t => { if (t.Cards.Count > 0) { rounds.Enqueue(t); } } };
            var snapshot = Stopwatch.StartNew();
            Task leader = election.Run(token => delivery.Run(TimeSpan.FromSeconds(1), _ => { }, w => Console.Error.WriteLine($"fleet sim: delivery: {w}"), token),
                m => { if (!stop.IsCancellationRequested && m.Contains("no longer", StringComparison.Ordinal)) { Console.Error.WriteLine($"fleet sim: {m}"); } }, stop.Token);
            await UntilRunning(sim, Expect(plan, Enumerable.Range(0, cards)), TimeSpan.FromMinutes(10));
            double snapshotMs = snapshot.Elapsed.TotalMilliseconds;
            Phase("every card runs its share");

            var delta = new List<double>();
            var phases = new List<ChangePhases>();
            for (int c = 0; c < changes; c++)
            {
                int eni = (int)((c * 7919L) % cards); // spread over the sets
                plan.Enis![eni].AdminState = plan.Enis[eni].AdminState == "up" ? "down" : "up";
                Dictionary<int, string> expected = Expect(plan, [eni / 2 * 2, eni / 2 * 2 + 1]);
                var timer = Stopwatch.StartNew();
                long publishing = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                await desired.Publish(plan);
                double published = timer.Elapsed.TotalMilliseconds;
                bool done = await UntilRunning(sim, expected, TimeSpan.FromSeconds(60));
                delta.Add(done ? timer.Elapsed.TotalMilliseconds : double.PositiveInfinity);
                RoundTrace? round = null; // the delivering round is traced after its cards took the share: wait for it a little
                for (var waited = Stopwatch.StartNew(); round is null && done && waited.Elapsed < TimeSpan.FromSeconds(2); await Task.Delay(5))
                {
                    round = rounds.Where(r => r.Started.ToUnixTimeMilliseconds() >= publishing).MinBy(r => r.Started);
                }

                phases.Add(new ChangePhases(delta[^1], publishing, published, round is null ? null : RoundTrace.Parse(round.Line())!.Value.Fields));
            }

            (IReadOnlyList<StoreEntry> all, _) = await store.Range("/");
            long bytes = all.Sum(e => (long)e.Key.Length + e.Value.Length);
            await stop.CancelAsync();
            await leader;
            Console.WriteLine($"fleet sim cards={cards} p50_ms={FleetRuns.Pct(delta, 50):0} p99_ms={FleetRuns.Pct(delta, 99):0} store_bytes={bytes} " +
                $"bytes_per_card={bytes / cards} snapshot_ms={snapshotMs:0} validate_ms={validateMs:0} publish_ms={publishMs:0} keys={all.Count}");
            Console.WriteLine(ChangePhases.Lines($"sim cards={cards}", phases));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>One tenant per set: a VNET, its route table, the set's two ENIs with a mapping each, and two remote VMs.</summary>
    private static ChangePlan Tenants(int sets)
    {
        ChangePlan demo = PlanJson.Parse(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "examples", "plans", "demo.json")), out _)!;
        EniSpec template = demo.Enis![0];
        var plan = new ChangePlan
        {
            Generation = 1, Appliance = demo.Appliance, DirectionLookup = demo.DirectionLookup, MeterClasses = demo.MeterClasses,
            AclGroups = demo.AclGroups, Vnets = [], Enis = [], RouteTables = [], Mappings = [],
        };
        for (int s = 0; s < sets; s++)
        {
            string vnet = $"v{s}";
            plan.Vnets.Add(new VnetSpec { Name = vnet, Vni = 10_000 + s });
            plan.RouteTables.Add(new RouteTableSpec { Name = $"rt{s}", Routes = [new RouteSpec { Prefix = "10.0.0.0/8", Action = "vnet", Vnet = vnet, MeterClass = 1 }] });
            for (int k = 0; k < 2; k++)
            {
                int i = 2 * s + k;
                string mac = $"00:cc:{i >> 16:x2}:{(i >> 8) & 255:x2}:{i & 255:x2}:01", underlay = $"172.16.{1 + i / 250}.{1 + i % 250}";
                plan.Enis.Add(new EniSpec
                {
                    Name = $"eni{i}", Mac = mac, Vnet = vnet, AdminState = "up", VmVni = template.VmVni, VmUnderlayIp = underlay, RouteTable = $"rt{s}", Acl = template.Acl,
                    InboundRoutes = [new InboundRouteSpec { Vni = 10_000 + s, UnderlayPrefix = "172.16.0.0/12", Action = "decap-pa-validate" }],
                });
                plan.Mappings.Add(new MappingSpec { Vnet = vnet, Ip = $"10.1.0.{1 + k}", UnderlayIp = underlay, Mac = mac });
                plan.Mappings.Add(new MappingSpec { Vnet = vnet, Ip = $"10.2.0.{1 + k}", UnderlayIp = $"172.20.{s / 250}.{1 + s % 250}" });
            }
        }

        return plan;
    }

    /// <summary>The digest of each card's share of the plan, as the store hands the plan back (computed before a change is timed).</summary>
    private static Dictionary<int, string> Expect(ChangePlan plan, IEnumerable<int> which)
    {
        PlanSlice stored = PlanSlice.Index(PlanObjects.Assemble(PlanObjects.Split(plan), null));
        return which.ToDictionary(card => card, card => PlanDigest.Of(stored.Share(new HashSet<string> { $"eni{card / 2 * 2}", $"eni{card / 2 * 2 + 1}" })));
    }

    /// <summary>Waits until each simulated card holds the digest expected of it.</summary>
    private static async Task<bool> UntilRunning(SimulatedCards sim, Dictionary<int, string> expected, TimeSpan wait)
    {
        var timer = Stopwatch.StartNew();
        while (expected.Count > 0)
        {
            foreach (int card in expected.Keys.ToList())
            {
                SimulatedCards.Running r = sim.Cards[card];
                lock (r)
                {
                    if (r.Digest == expected[card])
                    {
                        expected.Remove(card);
                    }
                }
            }

            if (expected.Count > 0)
            {
                if (timer.Elapsed > wait)
                {
                    return false;
                }

                await Task.Delay(2);
            }
        }

        return true;
    }
}
