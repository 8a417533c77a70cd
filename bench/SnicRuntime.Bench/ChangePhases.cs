using SnicRuntime.Management.Fleet;

namespace SnicRuntime.Bench;

/// <summary>
/// One fleet change's time, broken into phases: the publish (the store write), the wait until the
/// delivering round started (a watch's wake-up, or a new leader's takeover), the round's reads of
/// the desired state, and for its slowest card the wait for a slot, the inventory lookup, the question, the apply and the
/// record; "rest" is what no phase before the record covers (the benchmark's own polling of the
/// cards, and rounds lost to a killed leader); the record is written after the cards took the
/// share, so it is shown but is not on the change's path. Rounds come from the controllers' logs (<see cref="RoundTrace"/>).
/// </summary>
internal sealed record ChangePhases(double Total, long PublishingUnixMs, double Publish, IReadOnlyDictionary<string, double>? Round)
{
    private static readonly string[] s_names = ["publish", "wake", "read", "queued", "lookup", "ask", "apply", "record", "rest"];

    /// <summary>Each phase in ms, in <see cref="s_names"/> order; without a round, everything after the publish is rest.</summary>
    private double[] Values()
    {
        if (Round is null)
        {
            return [Publish, 0, 0, 0, 0, 0, 0, 0, Total - Publish];
        }

        double Field(string name) => Round.GetValueOrDefault(name);
        double read = Field("plan") + Field("placement") + Field("records") + Field("slice");
        double wake = Math.Max(0, Field("started") - PublishingUnixMs - Publish);
        double[] v = [Publish, wake, read, Field("queued"), Field("lookup"), Field("ask"), Field("apply"), Field("record"), 0];
        v[^1] = Math.Max(0, Total - v[..7].Sum()); // the record is written after the card took the share: not on the path
        return v;
    }

    /// <summary><c>fleet phases LABEL slowest_ms=X publish=.. wake=.. ... rest=..</c> and <c>fleet phases LABEL median publish=.. ...</c>.</summary>
    public static string Lines(string label, IReadOnlyList<ChangePhases> changes)
    {
        if (changes.Count == 0)
        {
            return $"fleet phases {label} changes=0";
        }

        ChangePhases slowest = changes.MaxBy(c => c.Total)!;
        double[] worst = slowest.Values();
        double[][] all = [.. changes.Select(c => c.Values())];
        string Median(int i) => FleetRuns.Pct([.. all.Select(v => v[i])], 50).ToString("0");
        return $"fleet phases {label} slowest_ms={slowest.Total:0} " + string.Join(' ', s_names.Select((n, i) => $"{n}={worst[i]:0}")) + Environment.NewLine +
            $"fleet phases {label} median " + string.Join(' ', s_names.Select((n, i) => $"{n}={Median(i)}"));
    }
}
