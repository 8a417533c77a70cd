using System.Diagnostics;
using System.Globalization;
using SnicRuntime.Management.Fabric;
using SnicRuntime.TestKit.Fabric;

namespace SnicRuntime.Bench;

/// <summary>
/// <c>bench/run.sh fleetha</c>: HA across real processes, judged by the fabric's census. Two card
/// processes (the published NativeAOT firmware) behind the fabric, paired by snicctl, two
/// <c>snicctl serve</c> controllers sharing the store (the leader witnesses). Each case is a phase
/// of one run that starts and ends with traffic drained, and prints one line from the census of
/// that phase alone.
/// </summary>
internal static class FleetHaRuns
{
    public static int Run(string[] args)
    {
        int kills = 10;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            if (args[i] == "--kills")
            {
                kills = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
        }

        using FabricHaBed bed = FabricHaBed.Start(new FabricHaBedOptions
        {
            PublishedFirmware = true,
            Controllers = 2,
            ControllerLeaseMs = 1000,
            LogDirectory = Environment.GetEnvironmentVariable("SNIC_FLEETHA_LOGS"),
            Traffic = new FabricOptions { ConnectionsPerEni = 100, StepsPerConnection = 60, StepGapMs = 10 },
        });
        var run = new Phases(bed);
        run.SwitchoverBothWays();
        run.PartitionHeal();
        run.KillActive(kills);
        run.KillController();
        return 0;
    }

    private sealed class Phases(FabricHaBed bed)
    {
        private EniCensus _before = new("total");
        private bool _started;

        private void Begin()
        {
            if (_started)
            {
                bed.Fabric.ResumeOpening();
            }
            else
            {
                bed.Fabric.StartTraffic();
                _started = true;
            }

            Thread.Sleep(2000);
        }

        /// <summary>Stops opening, lets every connection finish (or break), and returns this phase's census.</summary>
        private EniCensus End()
        {
            bed.Fabric.StopOpening();
            bed.Until(() => bed.Fabric.LiveConnections == 0, TimeSpan.FromSeconds(30), "every connection finished or broken");
            Thread.Sleep(200);
            EniCensus now = bed.Fabric.Sample();
            EniCensus phase = now.Since(_before);
            _before = now;
            Console.WriteLine($"  census {phase}");
            return phase;
        }

        /// <summary>Planned switchover of eni1's scope to its standby and back: nothing may be lost, packets included.</summary>
        public void SwitchoverBothWays()
        {
            Begin();
            var took = new List<double>();
            for (int way = 0; way < 2; way++)
            {
                int from = bed.ActiveOf("eni1");
                int moves = bed.Fabric.Read(f => f.Steering.Moves.Count);
                long at = Stopwatch.GetTimestamp();
                (int code, string output, string err) = bed.Snicctl("ha", "switchover", "eni1");
                if (code != 0)
                {
                    throw new InvalidOperationException($"snicctl ha switchover: {output}{err}");
                }

                bed.Until(() => bed.ActiveOf("eni1") == 1 - from && bed.Synced(), TimeSpan.FromSeconds(30), "switched over and synced");
                (long movedAt, long term) = bed.Fabric.Read(f => f.Steering.Moves.Skip(moves).Where(m => m.Eni == "eni1").Select(m => (m.At, m.Term)).First());
                // The handover starts when a card first announces the new term (the command's own
                // process start, ~1 s of JIT, is not the dataplane's time; a transient Switching
                // state can come and go between two of the fabric's reads).
                var newTerm = new System.Text.RegularExpressions.Regex($@"\bvms=\w+@{term}\b");
                long switching = bed.Fabric.Read(f => f.Announcements.Where(a => a.At >= at && newTerm.IsMatch(a.Said)).Select(a => a.At).DefaultIfEmpty(at).First());
                took.Add((movedAt - switching) * 1000.0 / Stopwatch.Frequency);
                Console.WriteLine($"  switchover {way + 1}: card {from} -> {1 - from}; the fabric moved eni1 {took[^1]:F1} ms after a card first announced the new term ({(movedAt - at) * 1000.0 / Stopwatch.Frequency:F0} ms after snicctl started)");
                Thread.Sleep(1000);
            }

            EniCensus c = End();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"fleetha switchover-both-ways flows_lost={c.FlowsLost} acknowledged_flows={c.Acknowledged} packets_lost={c.PacketsLost} detect_ms_p99=0 takeover_ms_p99={P99(took):F1} both_forwarding_ms={c.BothDecidingMs}"));
        }

        /// <summary>
        /// Cuts the replication link (both directions, in the relay between the cards) for 2 s under
        /// traffic, then heals it: the active goes on alone (its witness still answers for it), the
        /// standby does not take over, and after the heal the pair bulk-syncs back. Times the first
        /// card to declare its peer lost and the time back to Active/Standby after the heal.
        /// </summary>
        public void PartitionHeal()
        {
            Begin();
            var detect = new List<double>();
            var resync = new List<double>();
            for (int round = 0; round < 3; round++)
            {
                int seen = bed.Fabric.Read(f => f.Announcements.Count);
                long cut = Stopwatch.GetTimestamp();
                bed.Note("cut the sync link");
                bed.Relay!.Cut(true);
                bed.Until(() => bed.StatusOf(0) is { PeerUp: false } || bed.StatusOf(1) is { PeerUp: false }, TimeSpan.FromSeconds(10), "a card declares its peer lost");
                long lost = bed.Fabric.Read(f => f.Announcements.Skip(seen).Where(a => a.Said.StartsWith("peer lost", StringComparison.Ordinal)).Select(a => a.At).First());
                detect.Add((lost - cut) * 1000.0 / Stopwatch.Frequency);
                Thread.Sleep(2000);
                long healed = Stopwatch.GetTimestamp();
                bed.Note("heal the sync link");
                bed.Relay.Cut(false);
                bed.Until(() => bed.StatusOf(0) is { PeerUp: true } && bed.StatusOf(1) is { PeerUp: true } && bed.Synced(), TimeSpan.FromSeconds(30), "the pair synced again after the heal");
                resync.Add(Stopwatch.GetElapsedTime(healed).TotalMilliseconds);
                Console.WriteLine($"  partition {round + 1}: peer declared lost {detect[^1]:F1} ms after the cut; synced again {resync[^1]:F0} ms after the heal ({bed.Relay.Dropped} datagrams dropped so far)");
                Thread.Sleep(1000);
            }

            EniCensus c = End();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"fleetha partition-heal flows_lost={c.FlowsLost} acknowledged_flows={c.Acknowledged} packets_lost={c.PacketsLost} detect_ms_p99={P99(detect):F1} takeover_ms_p99=0 both_forwarding_ms={c.BothDecidingMs} resync_ms_p99={P99(resync):F0}"));
        }

        /// <summary>
        /// Kills the card deciding eni1's scope with SIGKILL under traffic, times detection (the
        /// survivor announces its peer lost) and takeover (the fabric moves eni1 to the survivor
        /// after its readiness barrier), restarts the dead card and waits until it is standby again; repeats.
        /// </summary>
        public void KillActive(int kills, string name = "kill-active", string extra = "")
        {
            Begin();
            var detect = new List<double>();
            var takeover = new List<double>();
            for (int k = 0; k < kills; k++)
            {
                (double detected, double took) = KillOnce(k);
                detect.Add(detected);
                takeover.Add(took);
            }

            EniCensus c = End();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"fleetha {name} flows_lost={c.FlowsLost} acknowledged_flows={c.Acknowledged} packets_lost={c.PacketsLost} detect_ms_p99={P99(detect):F1} takeover_ms_p99={P99(takeover):F1} both_forwarding_ms={c.BothDecidingMs}{extra}"));
        }

        private (double Detect, double Takeover) KillOnce(int k)
        {
            int victim = bed.ActiveOf("eni1");
            int survivor = 1 - victim;
            int moves = bed.Fabric.Read(f => f.Steering.Moves.Count);
            long killedAt = Stopwatch.GetTimestamp();
            bed.Kill(victim);
            double? detected = null, took = null;
            var clock = Stopwatch.StartNew();
            while ((detected is null || took is null) && clock.Elapsed < TimeSpan.FromSeconds(10))
            {
                if (detected is null && bed.StatusOf(survivor) is { PeerUp: false })
                {
                    detected = Stopwatch.GetElapsedTime(killedAt).TotalMilliseconds;
                }

                long? movedAt = bed.Fabric.Read(f => f.Steering.Moves.Skip(moves).Where(m => m.Eni == "eni1" && m.To == survivor).Select(m => (long?)m.At).FirstOrDefault());
                if (took is null && movedAt is long at)
                {
                    took = (at - killedAt) * 1000.0 / Stopwatch.Frequency;
                }

                Thread.Sleep(1);
            }

            Console.WriteLine($"  kill {k + 1}: card {victim} killed; detected {detected:F1} ms, taken over {took:F1} ms");
            bed.StartCard(victim);
            bed.Until(bed.Synced, TimeSpan.FromSeconds(60), $"kill {k + 1}: the restarted card back as standby");
            Thread.Sleep(1000);
            return (detected ?? double.NaN, took ?? double.NaN);
        }

        /// <summary>
        /// SIGKILLs the leading controller under traffic (the cards must not notice: nothing lost),
        /// times until the other leads, then kills the active card: the new leader must witness its takeover.
        /// </summary>
        public void KillController()
        {
            Begin();
            int leader = bed.Leader();
            long at = Stopwatch.GetTimestamp();
            bed.KillController(leader);
            bed.Until(() => bed.Leader() is int l && l >= 0 && l != leader, TimeSpan.FromSeconds(30), "another controller leads");
            double failover = Stopwatch.GetElapsedTime(at).TotalMilliseconds;
            Console.WriteLine($"  controller {leader} killed; controller {bed.Leader()} leads {failover:F0} ms later");
            Thread.Sleep(2000); // the new witness's first rounds open its sessions
            (double detected, double took) = KillOnce(0);
            EniCensus c = End();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"fleetha kill-controller flows_lost={c.FlowsLost} acknowledged_flows={c.Acknowledged} packets_lost={c.PacketsLost} detect_ms_p99={detected:F1} takeover_ms_p99={took:F1} both_forwarding_ms={c.BothDecidingMs} controller_failover_ms={failover:F0}"));
        }
    }

    private static double P99(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(sorted.Count * 0.99) - 1)];
    }
}
