using System.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace SnicRuntime.Management;

/// <summary>
/// Pushes the collector's figures over OTLP (HTTP/protobuf) with OpenTelemetry's own exporter:
/// the figures are System.Diagnostics.Metrics observable instruments (meter
/// <see cref="MeterName"/>) read from <see cref="TelemetryCollector.Latest"/> at each export, so
/// the OTLP view and the Prometheus view are the same numbers.
/// </summary>
public sealed class TelemetryOtlp : IDisposable
{
    public const string MeterName = "SnicRuntime.Management";

    private readonly Meter _meter;
    private readonly MeterProvider _provider;

    /// <param name="endpoint">The collector's OTLP/HTTP metrics URL, e.g. http://127.0.0.1:4318/v1/metrics.</param>
    public TelemetryOtlp(TelemetryCollector collector, Uri endpoint, TimeSpan exportInterval)
    {
        ArgumentNullException.ThrowIfNull(collector);
        ArgumentNullException.ThrowIfNull(endpoint);
        // One meter per instance (a test may run several); the provider listens to this instance only.
        _meter = new Meter(MeterName, "1.0");
        static KeyValuePair<string, object?> Card(CardFigures f) => new("card", f.Card);
        IEnumerable<CardFigures> Up() => collector.Latest.Where(f => f.Up);
        _meter.CreateObservableGauge("snic.card.up", () => collector.Latest.Select(f => new Measurement<int>(f.Up ? 1 : 0, Card(f))), null, "1 when the card answered");
        _meter.CreateObservableGauge("snic.card.generation", () => Up().Select(f => new Measurement<long>(f.Generation, Card(f))), "{generation}", "running change-plan generation");
        _meter.CreateObservableGauge("snic.worker.rx.rate", () => Up().SelectMany(f => f.Workers.Select(w =>
            new Measurement<double>(w.RxPps, Card(f), new("worker", w.Id)))), "{packet}/s", "packets received per second");
        _meter.CreateObservableGauge("snic.worker.cycles_per_packet", () => Up().SelectMany(f => f.Workers.Select(w =>
            new Measurement<double>(w.CyclesPerPacket, Card(f), new("worker", w.Id)))), "{cycle}", "cycles per packet");
        _meter.CreateObservableGauge("snic.worker.latency.p99", () => Up().SelectMany(f => f.Workers.Select(w =>
            new Measurement<double>(w.LatencyP99Ns / 1e9, Card(f), new("worker", w.Id)))), "s", "99th percentile burst latency");
        _meter.CreateObservableGauge("snic.card.drop_ratio", () => Up().Select(f => new Measurement<double>(f.DropRatio, Card(f))), "1", "dropped / received");
        _meter.CreateObservableGauge("snic.card.flows", () => Up().Select(f => new Measurement<long>(f.FlowsActive, Card(f))), "{flow}", "active flows");
        _meter.CreateObservableGauge("snic.port.rx.queue.depth", () => Up().SelectMany(f => f.Sample!.Queues.Select(q =>
            new Measurement<int>(q.Depth, Card(f), new("port", q.Port), new("queue", q.Queue)))), "{packet}", "packets waiting in an rx queue");

        _provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(MeterName)
            .AddReader(new PeriodicExportingMetricReader(new OtlpMetricExporter(new OtlpExporterOptions
            {
                Endpoint = endpoint,
                Protocol = OtlpExportProtocol.HttpProtobuf,
            }), (int)exportInterval.TotalMilliseconds))
            .Build();
    }

    /// <summary>Exports now (tests, and a last export before stopping).</summary>
    public bool Flush(int timeoutMs = 5000) => _provider.ForceFlush(timeoutMs);

    public void Dispose()
    {
        _provider.Dispose();
        _meter.Dispose();
    }
}
