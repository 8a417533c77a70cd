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
        var workers = body.GetProperty("workers").EnumerateArray().Select(w => new WorkerSample(
            w.GetProperty("id").GetInt32(), w.GetProperty("rx_packets").GetInt64(), w.GetProperty("tx_packets").GetInt64(),
            w.GetProperty("drops").GetInt64(), w.GetProperty("busy_ns").GetInt64(), w.GetProperty("latency_sum_ns").GetInt64(),
            w.GetProperty("latency_buckets").EnumerateArray().Select(b => b.GetInt64()).ToList())).ToList();
        var queues = body.GetProperty("ports").EnumerateArray().SelectMany(p => p.GetProperty("rx_queue_depths").EnumerateArray()
            .Select((d, q) => new QueueDepth(p.GetProperty("name").GetString()!, q, d.GetInt32()))).ToList();
        var bounds = body.GetProperty("latency_bounds_ns").EnumerateArray()
            .Select(b => b.GetDouble() < 0 ? double.PositiveInfinity : b.GetDouble()).ToList();
        return new CardSample(at, body.GetProperty("generation").GetInt64(), workers,
            body.GetProperty("drops_by_reason").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64()),
            body.GetProperty("flows_active").GetInt64(), body.GetProperty("flows_capacity").GetInt64(), queues,
            body.GetProperty("cpu_mhz").GetDouble(), bounds,
            // HA fields are optional: a card of an earlier firmware has none (and is not paired).
            body.TryGetProperty("ha_sync_lag", out JsonElement lag) ? lag.GetInt64() : -1,
            body.TryGetProperty("ha_peer_up", out JsonElement peer) && peer.ValueKind != JsonValueKind.Null ? peer.GetBoolean() : null);
    }
}
