using System.Diagnostics;
using System.Globalization;

namespace SnicRuntime.Bench;

/// <summary>
/// What our side of every C-peer comparison shares with the peer programs: argument parsing and
/// the timed loop (bursts of 32, a warm-up pass over a tenth of the stream, then the timed pass,
/// "ns_per_lookup=" printed like the C side prints it).
/// </summary>
internal static class PeerTiming
{
    public const int Burst = 32;

    /// <summary>Parses "--name value" pairs and bare flags; null (after saying why) on an unknown one.</summary>
    public static Dictionary<string, string>? Arguments(string tool, string[] args, params string[] known)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (!known.Contains(name))
            {
                Console.Error.WriteLine($"{tool}: unknown argument '{name}' (known: {string.Join(' ', known)})");
                return null;
            }

            bool flag = i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal);
            values[name] = flag ? "true" : args[++i];
        }

        return values;
    }

    public static long Long(Dictionary<string, string> a, string name, long fallback) =>
        a.TryGetValue(name, out string? v) ? long.Parse(v, CultureInfo.InvariantCulture) : fallback;

    /// <summary>
    /// Runs <paramref name="burst"/> over [0, n) in steps of 32 twice (warm-up on n/10, then all),
    /// returns nanoseconds per item of the timed pass and the sum the bursts returned.
    /// </summary>
    public static (double NsPerItem, long Sum) Time(long n, Func<long, long> burst)
    {
        double ns = 0;
        long sum = 0;
        for (int pass = 0; pass < 2; pass++)
        {
            long count = pass == 0 ? n / 10 : n;
            sum = 0;
            long t0 = Stopwatch.GetTimestamp();
            for (long j = 0; j + Burst <= count; j += Burst)
            {
                sum += burst(j);
            }

            ns = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / (count - count % Burst);
        }

        return (ns, sum);
    }
}
