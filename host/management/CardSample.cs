using SnicRuntime.Contracts.Agent;
using System.Text.Json;

namespace SnicRuntime.Management;

/// <summary>One worker's raw counters as the card reported them.</summary>
public sealed record WorkerSample(int Id, long RxPackets, long TxPackets, long Drops, long BusyNs, long LatencySumNs, IReadOnlyList<long> LatencyBuckets);

/// <summary>Packets waiting in one rx queue when the card was read.</summary>
public sealed record QueueDepth(string Port, int Queue, int Depth);

/// <summary>
/// One reading of a card's <c>/v1/counters</c>, typed. Rates and ratios need two readings:
/// <see cref="CardFigures.Derive"/> turns a pair into the figures an operator watches.
/// </summary>
public sealed record CardSample(
    DateTimeOffset At,
    long Generation,
    IReadOnlyList<WorkerSample> Workers,
    IReadOnlyDictionary<string, long> DropsByReason,
    long FlowsActive,
    long FlowsCapacity,
    IReadOnlyList<QueueDepth> Queues,
    double CpuMhz,
    IReadOnlyList<double> LatencyBoundsNs,
    long HaSyncLag = -1,
    bool? HaPeerUp = null)
{
    public long RxTotal => Workers.Sum(w => w.RxPackets);

    public long DropsTotal => Workers.Sum(w => w.Drops);

    /// <summary>Reads the agent's counters reply; the unbounded last latency bucket (sent as -1) becomes +Inf.</summary>
    public static CardSample Parse(JsonElement body, DateTimeOffset at)
    {
        // The card's own reply type (contracts/agent), read with the same source-generated
        // serializer the agent writes with: a renamed field breaks the build, not a dashboard.
        CountersReply r;
        try
        {
            r = body.Deserialize(AgentJsonContext.Default.CountersReply) ?? throw new FormatException("the counters reply is null");
        }
        catch (JsonException e)
        {
            throw new FormatException(e.Message, e);
        }

        if (r.Workers is null || r.Ports is null || r.DropsByReason is null || r.LatencyBoundsNs is null)
        {
            throw new FormatException("the counters reply lacks workers, ports, drops_by_reason or latency_bounds_ns");
        }

        var workers = r.Workers.Select(w => new WorkerSample(w.Id, w.RxPackets, w.TxPackets, w.Drops, w.BusyNs, w.LatencySumNs,
            (w.LatencyBuckets ?? []).ToList())).ToList();
        var queues = r.Ports.SelectMany(p => (p.RxQueueDepths ?? []).Select((d, q) => new QueueDepth(p.Name, q, d))).ToList();
        var bounds = r.LatencyBoundsNs.Select(b => b < 0 ? double.PositiveInfinity : b).ToList();
        return new CardSample(at, r.Generation, workers, r.DropsByReason.ToDictionary(), r.FlowsActive, r.FlowsCapacity, queues,
            r.CpuMhz, bounds, r.HaSyncLag, r.HaPeerUp);
    }
}
