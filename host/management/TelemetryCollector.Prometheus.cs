using System.Globalization;
using System.Text;

namespace SnicRuntime.Management;

public sealed partial class TelemetryCollector
{
    /// <summary>
    /// The figures as Prometheus text exposition (version 0.0.4), every series labelled by card.
    /// Counters carry the card's own totals (Prometheus derives rates itself); gauges carry the
    /// figures derived over the last interval. Names follow Prometheus' conventions (base units,
    /// <c>_total</c> on counters) so <c>promtool check metrics</c> passes them.
    /// </summary>
    public string RenderPrometheus()
    {
        IReadOnlyList<CardFigures> figures = Latest;
        var up = figures.Where(f => f.Up).ToList();
        var t = new StringBuilder();
        static string L(string card) => $"card=\"{Escape(card)}\"";

        Metric(t, "snic_card_up", "gauge", "1 when the card's agent answered the last collection", figures.Select(f => (L(f.Card), f.Up ? 1.0 : 0.0)));
        Metric(t, "snic_card_generation", "gauge", "change-plan generation the card runs", up.Select(f => (L(f.Card), (double)f.Generation)));
        Metric(t, "snic_worker_rx_packets_per_second", "gauge", "packets received per second, per worker, over the last interval",
            up.SelectMany(f => f.Workers.Select(w => ($"{L(f.Card)},worker=\"{w.Id}\"", w.RxPps))));
        Metric(t, "snic_worker_cycles_per_packet", "gauge", "busy time times the core clock per packet received, per worker, over the last interval",
            up.SelectMany(f => f.Workers.Select(w => ($"{L(f.Card)},worker=\"{w.Id}\"", w.CyclesPerPacket))));
        Metric(t, "snic_worker_busy_ratio", "gauge", "share of the last interval the worker spent on bursts",
            up.SelectMany(f => f.Workers.Select(w => ($"{L(f.Card)},worker=\"{w.Id}\"", w.BusyRatio))));
        Metric(t, "snic_worker_rx_packets_total", "counter", "packets received, per worker",
            up.SelectMany(f => f.Sample!.Workers.Select(w => ($"{L(f.Card)},worker=\"{w.Id}\"", (double)w.RxPackets))));
        Metric(t, "snic_card_drop_ratio", "gauge", "dropped / received over the last interval", up.Select(f => (L(f.Card), f.DropRatio)));
        Metric(t, "snic_card_drops_total", "counter", "packets dropped, by reason",
            up.SelectMany(f => f.DropsByReason.Select(d => ($"{L(f.Card)},reason=\"{Escape(d.Key)}\"", (double)d.Value))));
        Metric(t, "snic_card_flow_occupancy_ratio", "gauge", "active flows / flow capacity",
            up.Where(f => f.FlowsCapacity > 0).Select(f => (L(f.Card), f.FlowsActive / (double)f.FlowsCapacity)));
        Metric(t, "snic_card_flows", "gauge", "active flows", up.Select(f => (L(f.Card), (double)f.FlowsActive)));
        Metric(t, "snic_port_rx_queue_depth_packets", "gauge", "packets waiting in an rx queue when the card was read",
            up.SelectMany(f => f.Sample!.Queues.Where(q => q.Depth >= 0)
                .Select(q => ($"{L(f.Card)},port=\"{Escape(q.Port)}\",queue=\"{q.Queue}\"", (double)q.Depth))));
        Metric(t, "snic_card_ha_sync_lag_records", "gauge", "flow changes made here that the HA peer has not acknowledged",
            up.Where(f => f.Sample!.HaSyncLag >= 0).Select(f => (L(f.Card), (double)f.Sample!.HaSyncLag)));
        Metric(t, "snic_card_ha_peer_up", "gauge", "1 when the HA peer's probes arrive",
            up.Where(f => f.Sample!.HaPeerUp is not null).Select(f => (L(f.Card), f.Sample!.HaPeerUp == true ? 1.0 : 0.0)));
        LatencyHistogram(t, up);
        return t.ToString();
    }

    // Burst latency per worker as a Prometheus histogram: cumulative buckets in seconds, +Inf, sum, count.
    private static void LatencyHistogram(StringBuilder t, List<CardFigures> up)
    {
        const string name = "snic_worker_burst_latency_seconds";
        t.Append(CultureInfo.InvariantCulture, $"# HELP {name} time a worker held each packet's burst, from receive to transmit\n# TYPE {name} histogram\n");
        foreach (CardFigures f in up)
        {
            foreach (WorkerSample w in f.Sample!.Workers)
            {
                string labels = $"card=\"{Escape(f.Card)}\",worker=\"{w.Id}\"";
                long cumulative = 0;
                for (int i = 0; i < w.LatencyBuckets.Count; i++)
                {
                    cumulative += w.LatencyBuckets[i];
                    double bound = f.Sample.LatencyBoundsNs[i];
                    string le = double.IsPositiveInfinity(bound) ? "+Inf" : Number(bound / 1e9);
                    t.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}\n");
                }

                t.Append(CultureInfo.InvariantCulture, $"{name}_sum{{{labels}}} {Number(w.LatencySumNs / 1e9)}\n");
                t.Append(CultureInfo.InvariantCulture, $"{name}_count{{{labels}}} {cumulative}\n");
            }
        }
    }

    private static void Metric(StringBuilder t, string name, string type, string help, IEnumerable<(string Labels, double Value)> samples)
    {
        t.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");
        foreach ((string labels, double value) in samples)
        {
            t.Append(CultureInfo.InvariantCulture, $"{name}{{{labels}}} {Number(value)}\n");
        }
    }

    private static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    // Label values escape backslash, quote and newline (exposition format).
    private static string Escape(string v) => v.Replace("\\", "\\\\", StringComparison.Ordinal)
        .Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
