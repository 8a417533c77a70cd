using System.Diagnostics;
using System.Globalization;
using SnicRuntime.Management.Fabric;
using SnicRuntime.TestKit.Fabric;

namespace SnicRuntime.Bench;

/// <summary>
/// <c>bench/run.sh fleetha</c>: HA across real processes, judged by the fabric's census. Two card
/// processes (the published NativeAOT firmware) behind the fabric, paired by snicctl, witnessed by
/// <c>snicctl serve</c>; each case prints one line.
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
            LogDirectory = Environment.GetEnvironmentVariable("SNIC_FLEETHA_LOGS"),
            Traffic = new FabricOptions { ConnectionsPerEni = 100, StepsPerConnection = 60, StepGapMs = 10 },
        });
        KillActive(bed, kills);
        return 0;
    }

    /// <summary>
    /// Kills the card deciding eni1's scope with SIGKILL under traffic, times detection (the
    /// survivor announces its peer lost) and takeover (the fabric moves eni1 to the survivor after
    /// its readiness barrier), restarts the dead card and waits until it is standby again; repeats.
    /// </summary>
    private static void KillActive(FabricHaBed bed, int kills)
    {
        bed.Fabric.StartTraffic();
        for (int s = 0; s < 3; s++)
        {
            Thread.Sleep(1000);
            Console.WriteLine($"  warm-up {s + 1} s: {bed.Fabric.Sample()} card arrivals {string.Join("/", bed.Fabric.Read(f => f.CardArrivals.ToArray()))} redirected {bed.Fabric.Redirected} foreign {bed.Fabric.Foreign}");
        }
        var detect = new List<double>();
        var takeover = new List<double>();
        for (int k = 0; k < kills; k++)
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

                (long At, string Eni, int From, int To, long Term)? move = bed.Fabric.Read(f => f.Steering.Moves.Skip(moves).Where(m => m.Eni == "eni1" && m.To == survivor).Select(m => ((long, string, int, int, long)?)m).FirstOrDefault());
                if (took is null && move is { } m)
                {
                    took = (m.At - killedAt) * 1000.0 / Stopwatch.Frequency;
                }

                Thread.Sleep(1);
            }

            detect.Add(detected ?? double.NaN);
            takeover.Add(took ?? double.NaN);
            Console.WriteLine($"  kill {k + 1}: card {victim} killed; detected {detected:F1} ms, taken over {took:F1} ms");
            bed.StartCard(victim);
            bed.Until(bed.Synced, TimeSpan.FromSeconds(60), $"kill {k + 1}: the restarted card back as standby");
            Thread.Sleep(1000);
        }

        bed.Fabric.StopOpening();
        bed.Until(() => bed.Fabric.LiveConnections == 0, TimeSpan.FromSeconds(30), "every connection finished or broken");
        Thread.Sleep(200);
        EniCensus c = bed.Fabric.Sample();
        Console.WriteLine($"  census {c}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fleetha kill-active flows_lost={c.FlowsLost} acknowledged_flows={c.Acknowledged} packets_lost={c.PacketsLost} detect_ms_p99={P99(detect):F1} takeover_ms_p99={P99(takeover):F1} both_forwarding_ms={c.BothDecidingMs}"));
    }

    private static double P99(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(sorted.Count * 0.99) - 1)];
    }
}
