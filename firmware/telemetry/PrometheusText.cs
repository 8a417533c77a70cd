using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace SnicRuntime.Firmware.Telemetry;

/// <summary>
/// Renders one meter's instruments in the Prometheus text exposition format (version 0.0.4):
/// names with dots become underscores, counters get <c>_total</c>, tags become labels. Observable
/// instruments are read at render time, so a scrape costs the collector, not the workers.
/// </summary>
public static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Render(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        var samples = new List<(Instrument Instrument, long Value, KeyValuePair<string, object?>[] Tags)>();
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, meter))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => samples.Add((instrument, value, tags.ToArray())));
            listener.Start();
            listener.RecordObservableInstruments();
        }

        var text = new StringBuilder();
        foreach (var group in samples.GroupBy(s => s.Instrument))
        {
            Instrument i = group.Key;
            bool counter = i is ObservableCounter<long> or Counter<long>;
            string name = i.Name.Replace('.', '_') + (counter ? "_total" : "");
            text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {i.Description}\n");
            text.Append(CultureInfo.InvariantCulture, $"# TYPE {name} {(counter ? "counter" : "gauge")}\n");
            foreach (var (_, value, tags) in group)
            {
                text.Append(name);
                if (tags.Length > 0)
                {
                    text.Append('{').AppendJoin(',', tags.Select(t => $"{t.Key}=\"{Escape(Convert.ToString(t.Value, CultureInfo.InvariantCulture))}\"")).Append('}');
                }

                text.Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }
        }

        return text.ToString();
    }

    private static string Escape(string? value) => (value ?? "").Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
