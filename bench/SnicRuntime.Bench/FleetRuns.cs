using System.Diagnostics;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Management;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;
using SnicRuntime.TestKit;
using SnicRuntime.TestKit.Store;

namespace SnicRuntime.Bench;

/// <summary>
/// The fleet control plane at size (issue 21): a real 3-member etcd cluster, three real
/// <c>snicctl serve</c> controllers and N light card processes on loopback; 2 ENIs on each of N/2
/// HA sets. The judge is the cards themselves: a change counts as delivered when both cards of its
/// set report running the content the desired state gives them (their plan digest), and the
/// cards' own install counters say whether anything was applied twice.
/// </summary>
internal static class FleetRuns
{
    public static async Task<int> Run(string[] args)
    {
        int cards = Arg(args, "--cards", 64), changes = Arg(args, "--changes", 30), kills = Arg(args, "--kills", 5);
        if (EtcdCluster.Unavailable is string missing)
        {
            Console.Error.WriteLine($"fleet: {missing}");
            return 2;
        }

        // fleet --curve 8,16,32,64: the delta case alone at each size; fleet --sim 1000,10000: simulated cards.
        int[]? sizes, simulated;
        try
        {
            (sizes, simulated) = (List(args, "--curve"), List(args, "--sim"));
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }

        if (sizes is not null)
        {
            foreach (int n in sizes)
            {
                await Curve(n, changes);
            }

            return 0;
        }

        if (simulated is not null)
        {
            foreach (int n in simulated)
            {
                await FleetSim.Run(n, changes);
            }

            return 0;
        }

        if (cards < 2 || cards % 2 != 0)
        {
            Console.Error.WriteLine("fleet: --cards must be even and at least 2");
            return 2;
        }

        string dir = Directory.CreateTempSubdirectory("snic-fleet-bench-").FullName;
        try
        {
            await using var bed = new FleetBed(dir, cards);
            await bed.Start();
            Console.WriteLine($"fleet snapshot cards={cards} ms={await bed.Snapshot():0}");
            List<double> delta = [];
            for (int c = 0; c < changes; c++)
            {
                delta.Add(await bed.Change(c, killLeader: false));
            }

            Console.WriteLine($"fleet delta cards={cards} store=etcd p50_ms={Pct(delta, 50):0} p99_ms={Pct(delta, 99):0} changes={changes} lost={bed.Lost} doubled={await bed.Doubled()}");
            Console.WriteLine(bed.PhaseLines("delta store=etcd"));
            List<double> failover = [];
            for (int k = 0; k < kills; k++)
            {
                failover.Add(await bed.Change(changes + k, killLeader: true));
            }

            Console.WriteLine($"fleet controller-failover kills={kills} p99_ms={Pct(failover, 99):0} lost={bed.Lost} doubled={await bed.Doubled()}");
            Console.WriteLine(bed.PhaseLines("controller-failover"));
            List<double> member = [];
            for (int k = 0; k < kills; k++)
            {
                member.Add(await bed.Change(changes + kills + k, killLeader: false, killEtcdLeader: true));
            }

            Console.WriteLine($"fleet etcd-member-failover kills={kills} p99_ms={Pct(member, 99):0} lost={bed.Lost} doubled={await bed.Doubled()}");
            Console.WriteLine(bed.PhaseLines("etcd-member-failover"));

            await bed.UseSqlite();
            List<double> sqlite = [];
            for (int c = 0; c < changes; c++)
            {
                sqlite.Add(await bed.Change(changes + 2 * kills + c, killLeader: false));
            }

            Console.WriteLine($"fleet delta cards={cards} store=sqlite p50_ms={Pct(sqlite, 50):0} p99_ms={Pct(sqlite, 99):0} changes={changes} lost={bed.Lost} doubled={await bed.Doubled()}");
            Console.WriteLine(bed.PhaseLines("delta store=sqlite"));
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The one-ENI delta alone on a fleet of <paramref name="cards"/> real card processes.</summary>
    private static async Task Curve(int cards, int changes)
    {
        string dir = Directory.CreateTempSubdirectory("snic-fleet-curve-").FullName;
        try
        {
            await using var bed = new FleetBed(dir, cards);
            await bed.Start();
            await bed.Snapshot();
            List<double> delta = [];
            for (int c = 0; c < changes; c++)
            {
                delta.Add(await bed.Change(c, killLeader: false));
            }

            Console.WriteLine($"fleet curve cards={cards} p50_ms={Pct(delta, 50):0} p99_ms={Pct(delta, 99):0} changes={changes} lost={bed.Lost} doubled={await bed.Doubled()}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static int[]? List(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i < 0 || i + 1 >= args.Length ? null
            : [.. args[i + 1].Split(',').Select(v => int.TryParse(v, out int n) && n >= 2 && n % 2 == 0 ? n : throw new ArgumentException($"fleet {name}: '{v}' is not an even card count of at least 2"))];
    }

    internal static double Pct(List<double> values, int p)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p / 100.0 * sorted.Count) - 1)];
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out int v) ? v : fallback;
    }
}
