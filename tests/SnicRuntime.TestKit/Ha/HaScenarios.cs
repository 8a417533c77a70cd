using SnicRuntime.Firmware.Ha;

namespace SnicRuntime.TestKit.Ha;

/// <summary>What one fault scenario did to a pair of cards.</summary>
public sealed record HaScenarioResult(string Name, int Seed, long FlowsLost, long AcknowledgedFlows, long PacketsLost, long Packets,
    long DetectMs, long TakeoverMs, long ResyncMs, long BothForwardingSteps, string Drops = "")
{
    public List<(string, double)> Figures() =>
    [
        ("flows_lost", FlowsLost), ("acknowledged_flows", AcknowledgedFlows), ("packets_lost", PacketsLost), ("packets", Packets),
        ("detect_ms", DetectMs), ("takeover_ms", TakeoverMs), ("resync_ms", ResyncMs), ("both_forwarding_ms", BothForwardingSteps), ("seed", Seed),
    ];
}

/// <summary>
/// The HA fault scenarios of the HA issue on <see cref="HaTestBed"/>: each starts from a synced
/// pair holding <c>flows</c> flows with live traffic, injects one kind of fault, and reports
/// acknowledged flows lost, packets lost, detection, takeover and time back to a synced pair
/// (milliseconds of the bed's clock; -1 when it did not apply or did not happen).
/// </summary>
public static class HaScenarios
{
    private const int MaxSteps = 120_000;

    public static HaTestBed Synced(int seed, int flows)
    {
        var bed = new HaTestBed(seed, flows);
        if (bed.RunUntil(() => bed.Synced, MaxSteps, traffic: false) < 0)
        {
            throw new InvalidOperationException($"seed {seed}: the pair never synced (bulk of {flows} flows)");
        }

        bed.Run(300);
        return bed;
    }

    private static long Settle(HaTestBed bed)
    {
        // Stop sending, let everything in flight land, then count.
        bed.RunUntil(() => bed.Synced, 5_000, traffic: false);
        bed.Run(200, traffic: false);
        return bed.Injected - bed.Delivered;
    }

    private static HaScenarioResult Result(string name, int seed, HaTestBed bed, long detect = -1, long takeover = -1, long resync = -1)
    {
        long lost = Settle(bed);
        return new HaScenarioResult(name, seed, bed.FlowsLost(), bed.Acknowledged.Count + bed.Preloaded, lost, bed.Injected, detect, takeover, resync, bed.BothForwardingSteps, bed.Drops());
    }

    /// <summary>SIGKILL of the active: the standby detects it, the witness grants, it takes over; the killed card comes back empty and resyncs.</summary>
    public static HaScenarioResult KillActive(int seed, int flows)
    {
        using HaTestBed bed = Synced(seed, flows);
        int dead = bed.Holder;
        bed.Kill(dead);
        long detect = bed.RunUntil(() => !bed.Card(1 - dead)!.Node.PeerUp, MaxSteps);
        long takeover = bed.RunUntil(() => bed.StateOf(1 - dead) == HaState.Standalone, MaxSteps) + detect;
        int lostAtTakeover = bed.FlowsLost();
        bed.Run(500);
        bed.Restart(dead);
        long resync = bed.RunUntil(() => bed.Synced, MaxSteps);
        HaScenarioResult r = Result("kill-active", seed, bed, detect, takeover, resync);
        return r with { FlowsLost = Math.Max(r.FlowsLost, lostAtTakeover) };
    }

    /// <summary>The sync link is cut for two seconds, then heals: the active goes on alone, the standby waits (no grant), they resync.</summary>
    public static HaScenarioResult PartitionHeal(int seed, int flows)
    {
        using HaTestBed bed = Synced(seed, flows);
        bed.Net.Faults.Partitioned = true;
        long detect = bed.RunUntil(() => !bed.Card(bed.Holder)!.Node.PeerUp, MaxSteps);
        bed.Run(2000 - (int)detect);
        bed.Net.Faults.Partitioned = false;
        long resync = bed.RunUntil(() => bed.Synced, MaxSteps);
        return Result("partition-heal", seed, bed, detect, -1, resync);
    }

    /// <summary>5 % loss and 5 % reordering (plus 1 % duplicates) on the sync link for <paramref name="seconds"/> seconds under traffic.</summary>
    public static HaScenarioResult LossAndReorder(int seed, int flows, int seconds)
    {
        using HaTestBed bed = Synced(seed, flows);
        bed.Net.Faults.DropRate = 0.05;
        bed.Net.Faults.ReorderRate = 0.05;
        bed.Net.Faults.ReorderWindowMs = 10;
        bed.Net.Faults.DuplicateRate = 0.01;
        bed.Run(seconds * 1000);
        bed.Net.Faults.DropRate = bed.Net.Faults.ReorderRate = bed.Net.Faults.DuplicateRate = 0;
        long resync = bed.RunUntil(() => bed.Synced, MaxSteps);
        return Result("loss5-reorder5", seed, bed, -1, -1, resync);
    }

    /// <summary>The standby restarts (empty): the active goes on alone, the new standby is bulk-synced while traffic flows.</summary>
    public static HaScenarioResult RestartStandby(int seed, int flows)
    {
        using HaTestBed bed = Synced(seed, flows);
        int standby = 1 - bed.Holder;
        bed.Kill(standby);
        long detect = bed.RunUntil(() => !bed.Card(bed.Holder)!.Node.PeerUp, MaxSteps);
        bed.Restart(standby);
        long resync = bed.RunUntil(() => bed.Synced, MaxSteps);
        return Result("restart-standby", seed, bed, detect, -1, resync);
    }

    /// <summary>Planned switchover there and back under traffic: nothing may be lost.</summary>
    public static HaScenarioResult SwitchoverBothWays(int seed, int flows)
    {
        using HaTestBed bed = Synced(seed, flows);
        long took = 0;
        for (int i = 0; i < 2; i++)
        {
            bed.Switchover();
            took = Math.Max(took, bed.RunUntil(() => bed.Synced, MaxSteps));
            bed.Run(300);
        }

        return Result("switchover-both-ways", seed, bed, -1, took, -1);
    }

    /// <summary>
    /// Split brain, tried: the active is cut off from its peer AND from the management plane while
    /// it keeps receiving traffic. It fences itself; only then does the witness give the standby
    /// the next term; on healing the old active sees the newer term and stays out.
    /// </summary>
    public static HaScenarioResult SplitBrainAttempt(int seed, int flows)
    {
        using HaTestBed bed = Synced(seed, flows);
        int old = bed.Holder;
        bed.Net.Faults.Partitioned = true;
        bed.WitnessReaches(old, false);
        long takeover = bed.RunUntil(() => bed.Holder != old && bed.StateOf(bed.Holder) == HaState.Standalone, MaxSteps);
        bed.Run(500);
        bed.Net.Faults.Partitioned = false;
        bed.WitnessReaches(old, true);
        long resync = bed.RunUntil(() => bed.Synced, MaxSteps);
        return Result("split-brain-attempt", seed, bed, -1, takeover, resync);
    }

    /// <summary>
    /// Seeded random fault schedules: each run strings together phases of calm, loss and
    /// reordering, partitions, active kills (the card comes back empty), standby restarts and
    /// switchovers. Any run that loses an acknowledged flow or lets both cards decide flows throws
    /// with its seed.
    /// </summary>
    public static List<HaScenarioResult> Randomized(int firstSeed, int runs, int flows)
    {
        var results = new List<HaScenarioResult>();
        for (int run = 0; run < runs; run++)
        {
            int seed = firstSeed + run;
            var r = new Random(seed);
            using HaTestBed bed = Synced(seed, flows);
            for (int phase = 0; phase < 6; phase++)
            {
                int kind = r.Next(6);
                if (Environment.GetEnvironmentVariable("HA_DEBUG") is not null)
                {
                    Console.Error.WriteLine($"seed {seed} phase {phase} kind {kind} at {bed.Now}: {bed.StateOf(0)}/{bed.StateOf(1)} holder {bed.Holder}");
                }

                switch (kind)
                {
                    case 0:
                        bed.Run(200 + r.Next(800));
                        break;
                    case 1:
                        bed.Net.Faults.DropRate = r.NextDouble() * 0.2;
                        bed.Net.Faults.ReorderRate = r.NextDouble() * 0.2;
                        bed.Net.Faults.DuplicateRate = r.NextDouble() * 0.05;
                        bed.Run(500 + r.Next(2000));
                        bed.Net.Faults.DropRate = bed.Net.Faults.ReorderRate = bed.Net.Faults.DuplicateRate = 0;
                        break;
                    case 2:
                        bed.Net.Faults.Partitioned = true;
                        bed.Run(100 + r.Next(1500));
                        bed.Net.Faults.Partitioned = false;
                        break;
                    case 3:
                        int dead = bed.Holder;
                        bed.Kill(dead);
                        bed.RunUntil(() => bed.Holder != dead && bed.StateOf(bed.Holder) == HaState.Standalone, MaxSteps);
                        Check(bed, seed, "after a kill");
                        bed.Run(r.Next(500));
                        bed.Restart(dead);
                        break;
                    case 4:
                        int standby = 1 - bed.Holder;
                        bed.Kill(standby);
                        bed.Run(r.Next(500));
                        bed.Restart(standby);
                        break;
                    default:
                        if (bed.Synced)
                        {
                            bed.Switchover();
                        }

                        break;
                }

                if (bed.RunUntil(() => bed.Synced, MaxSteps) < 0)
                {
                    throw new InvalidOperationException($"seed {seed}: the pair did not resync after phase {phase} (kind {kind}): " +
                        $"{bed.StateOf(0)}/{bed.StateOf(1)}, holder {bed.Holder}");
                }

                Check(bed, seed, $"phase {phase} (kind {kind})");
            }

            results.Add(Result("randomized", seed, bed));
        }

        return results;
    }

    private static void Check(HaTestBed bed, int seed, string when)
    {
        int lost = bed.FlowsLost();
        if (lost != 0 || bed.BothForwardingSteps != 0)
        {
            throw new InvalidOperationException($"seed {seed}, {when}: {lost} acknowledged flows lost, both cards forwarding for {bed.BothForwardingSteps} ms: {bed.DescribeLost()}");
        }
    }
}
