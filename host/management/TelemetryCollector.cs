using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SnicRuntime.Management;

/// <summary>
/// Collects every card's counters on an interval and derives the figures an operator watches:
/// packets per second per worker, drop ratio (overall and by reason), flow occupancy, whether the
/// card answers and at which generation. <see cref="RenderPrometheus"/> gives them as Prometheus
/// text with a <c>card</c> label, for the management plane's loopback endpoint.
/// </summary>
public sealed class TelemetryCollector(ManagementStore store, ManagementIdentity? identity = null)
{
    private readonly Dictionary<string, Sample> _last = [];
    private readonly Lock _gate = new();
    private IReadOnlyList<CardFigures> _figures = [];

    /// <summary>One card's derived figures at the last collection.</summary>
    public sealed record CardFigures(
        string Card, bool Up, long Generation, IReadOnlyDictionary<int, double> RxPpsByWorker, double DropRatio,
        IReadOnlyDictionary<string, long> DropsByReason, long FlowsActive, long FlowsCapacity, string? Problem);

    private sealed record Sample(DateTimeOffset At, Dictionary<int, long> Rx, long RxTotal, long DropsTotal);

    public IReadOnlyList<CardFigures> Latest
    {
        get
        {
            lock (_gate)
            {
                return _figures;
            }
        }
    }

    /// <summary>Polls every card once and updates the figures.</summary>
    public async Task Collect(CancellationToken cancel = default)
    {
        var figures = new List<CardFigures>();
        foreach (Card card in store.Cards())
        {
            using var client = new AgentClient(card, TimeSpan.FromSeconds(5), identity);
            AgentReply reply = await client.Get("/v1/counters", cancel).ConfigureAwait(false);
            if (!reply.Ok)
            {
                figures.Add(new CardFigures(card.Name, false, 0, new Dictionary<int, double>(), 0, new Dictionary<string, long>(), 0, 0, reply.Reason));
                continue;
            }

            JsonElement body = reply.Body!.Value;
            var now = DateTimeOffset.UtcNow;
            var rx = body.GetProperty("workers").EnumerateArray().ToDictionary(w => w.GetProperty("id").GetInt32(), w => w.GetProperty("rx_packets").GetInt64());
            long rxTotal = rx.Values.Sum();
            long drops = body.GetProperty("workers").EnumerateArray().Sum(w => w.GetProperty("drops").GetInt64());
            var pps = new Dictionary<int, double>();
            double dropRatio = 0;
            lock (_gate)
            {
                if (_last.TryGetValue(card.Name, out Sample? previous))
                {
                    double seconds = Math.Max((now - previous.At).TotalSeconds, 1e-3);
                    foreach ((int worker, long count) in rx)
                    {
                        pps[worker] = Math.Max(0, count - previous.Rx.GetValueOrDefault(worker)) / seconds;
                    }

                    long newRx = rxTotal - previous.RxTotal;
                    dropRatio = newRx > 0 ? Math.Max(0, drops - previous.DropsTotal) / (double)newRx : 0;
                }

                _last[card.Name] = new Sample(now, rx, rxTotal, drops);
            }

            var reasons = body.GetProperty("drops_by_reason").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
            figures.Add(new CardFigures(card.Name, true, body.GetProperty("generation").GetInt64(), pps, dropRatio, reasons,
                body.GetProperty("flows_active").GetInt64(), body.GetProperty("flows_capacity").GetInt64(), null));
        }

        lock (_gate)
        {
            _figures = figures;
        }
    }

    /// <summary>Collects on <paramref name="interval"/> until cancelled; a card that fails is reported as down, never stops the loop.</summary>
    public async Task Run(TimeSpan interval, CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            try
            {
                await Collect(cancel).ConfigureAwait(false);
                await Task.Delay(interval, cancel).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>The figures as Prometheus text exposition (version 0.0.4).</summary>
    public string RenderPrometheus()
    {
        IReadOnlyList<CardFigures> figures = Latest;
        var t = new StringBuilder();
        void Metric(string name, string type, string help, IEnumerable<(string Labels, double Value)> samples)
        {
            t.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n");
            foreach ((string labels, double value) in samples)
            {
                t.Append(CultureInfo.InvariantCulture, $"{name}{{{labels}}} {value.ToString("R", CultureInfo.InvariantCulture)}\n");
            }
        }

        static string L(string card) => $"card=\"{card.Replace("\"", "\\\"", StringComparison.Ordinal)}\"";
        Metric("snic_card_up", "gauge", "1 when the card's agent answered the last collection", figures.Select(f => (L(f.Card), f.Up ? 1.0 : 0.0)));
        Metric("snic_card_generation", "gauge", "change-plan generation the card runs", figures.Where(f => f.Up).Select(f => (L(f.Card), (double)f.Generation)));
        Metric("snic_worker_rx_pps", "gauge", "packets per second received, per worker, over the last interval",
            figures.SelectMany(f => f.RxPpsByWorker.Select(w => ($"{L(f.Card)},worker=\"{w.Key}\"", w.Value))));
        Metric("snic_card_drop_ratio", "gauge", "dropped / received over the last interval", figures.Where(f => f.Up).Select(f => (L(f.Card), f.DropRatio)));
        Metric("snic_card_drops_total", "counter", "packets dropped, by reason",
            figures.SelectMany(f => f.DropsByReason.Select(d => ($"{L(f.Card)},reason=\"{d.Key}\"", (double)d.Value))));
        Metric("snic_card_flow_occupancy", "gauge", "active flows / flow capacity",
            figures.Where(f => f.Up && f.FlowsCapacity > 0).Select(f => (L(f.Card), f.FlowsActive / (double)f.FlowsCapacity)));
        return t.ToString();
    }
}
