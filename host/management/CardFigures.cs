namespace SnicRuntime.Management;

/// <summary>
/// A worker's efficiency over the last interval: packets per second, cycles per packet (busy
/// nanoseconds × the card's clock ÷ packets), the share of time it was busy, and burst-latency
/// percentiles interpolated inside the histogram's power-of-two buckets.
/// </summary>
public sealed record WorkerFigures(int Id, double RxPps, double CyclesPerPacket, double BusyRatio, double LatencyP50Ns, double LatencyP99Ns);

/// <summary>One card's derived figures at the last collection (<see cref="Sample"/> is null when it did not answer).</summary>
public sealed record CardFigures(string Card, bool Up, string? Problem, CardSample? Sample, IReadOnlyList<WorkerFigures> Workers, double DropRatio)
{
    public long Generation => Sample?.Generation ?? 0;

    public IReadOnlyDictionary<int, double> RxPpsByWorker => Workers.ToDictionary(w => w.Id, w => w.RxPps);

    public IReadOnlyDictionary<string, long> DropsByReason => Sample?.DropsByReason ?? new Dictionary<string, long>();

    public long FlowsActive => Sample?.FlowsActive ?? 0;

    public long FlowsCapacity => Sample?.FlowsCapacity ?? 0;

    public static CardFigures Down(string card, string problem) => new(card, false, problem, null, [], 0);

    /// <summary>
    /// Averages over the card's whole run from one reading (cycles per packet, latency
    /// percentiles, drop ratio); per-second rates and busy share need two readings and are 0.
    /// </summary>
    public static CardFigures Lifetime(string card, CardSample now)
    {
        ArgumentNullException.ThrowIfNull(now);
        CardSample zero = now with
        {
            At = now.At - TimeSpan.FromSeconds(1),
            Workers = now.Workers.Select(w => new WorkerSample(w.Id, 0, 0, 0, 0, 0, new long[w.LatencyBuckets.Count])).ToList(),
        };
        CardFigures f = Derive(card, zero, now);
        return f with { Workers = f.Workers.Select(w => w with { RxPps = 0, BusyRatio = 0 }).ToList() };
    }

    /// <summary>
    /// Figures from two readings of the same card. Without an earlier reading (or after the card
    /// restarted and its counters went back) rates are 0 rather than a made-up number.
    /// </summary>
    public static CardFigures Derive(string card, CardSample? previous, CardSample now)
    {
        ArgumentNullException.ThrowIfNull(now);
        if (previous is null || now.RxTotal < previous.RxTotal)
        {
            return new CardFigures(card, true, null, now, now.Workers.Select(w => new WorkerFigures(w.Id, 0, 0, 0, 0, 0)).ToList(), 0);
        }

        double seconds = Math.Max((now.At - previous.At).TotalSeconds, 1e-3);
        var workers = new List<WorkerFigures>();
        foreach (WorkerSample w in now.Workers)
        {
            WorkerSample? before = previous.Workers.FirstOrDefault(p => p.Id == w.Id);
            long packets = Math.Max(0, w.RxPackets - (before?.RxPackets ?? 0));
            long busyNs = Math.Max(0, w.BusyNs - (before?.BusyNs ?? 0));
            long[] delta = w.LatencyBuckets.Select((b, i) => Math.Max(0, b - (before?.LatencyBuckets.ElementAtOrDefault(i) ?? 0))).ToArray();
            workers.Add(new WorkerFigures(w.Id, packets / seconds,
                packets > 0 && now.CpuMhz > 0 ? busyNs * (now.CpuMhz / 1000.0) / packets : 0,
                Math.Min(1.0, busyNs / (seconds * 1e9)),
                Percentile(delta, now.LatencyBoundsNs, 0.50), Percentile(delta, now.LatencyBoundsNs, 0.99)));
        }

        long newRx = now.RxTotal - previous.RxTotal;
        double dropRatio = newRx > 0 ? Math.Max(0, now.DropsTotal - previous.DropsTotal) / (double)newRx : 0;
        return new CardFigures(card, true, null, now, workers, dropRatio);
    }

    /// <summary>
    /// The <paramref name="q"/>-quantile of a histogram interval, interpolated linearly inside the
    /// bucket it falls in (as Prometheus' histogram_quantile does); the unbounded last bucket
    /// answers with its lower bound. 0 when the interval saw no packet.
    /// </summary>
    public static double Percentile(IReadOnlyList<long> counts, IReadOnlyList<double> upperBounds, double q)
    {
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(upperBounds);
        long total = counts.Sum();
        if (total == 0)
        {
            return 0;
        }

        double rank = q * total;
        long seen = 0;
        for (int i = 0; i < counts.Count; i++)
        {
            double lower = i == 0 ? 0 : upperBounds[i - 1];
            if (seen + counts[i] >= rank && counts[i] > 0)
            {
                double upper = upperBounds[i];
                return double.IsPositiveInfinity(upper) ? lower : lower + (upper - lower) * ((rank - seen) / counts[i]);
            }

            seen += counts[i];
        }

        return upperBounds[^2];
    }
}
