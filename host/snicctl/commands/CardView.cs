using System.Globalization;
using SnicRuntime.Management;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace SnicRuntime.Ctl;

/// <summary>
/// How snicctl shows cards' figures: one Spectre table per card (workers as rows) with the card's
/// totals in its title. Used by <c>stats</c>, <c>stats --watch</c> and <c>demo</c>.
/// </summary>
internal static class CardView
{
    /// <param name="rates">Interval figures (packets per second, busy share) when true; lifetime averages otherwise.</param>
    public static IRenderable Render(IReadOnlyList<CardFigures> cards, bool rates)
    {
        var rows = new List<IRenderable>();
        foreach (CardFigures f in cards)
        {
            if (!f.Up)
            {
                rows.Add(new Markup($"[red]{Markup.Escape(f.Card)}: down[/] — {Markup.Escape(f.Problem ?? "no answer")}"));
                continue;
            }

            CardSample s = f.Sample!;
            var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(
                $"{f.Card} · generation {s.Generation} · flows {s.FlowsActive:N0}/{s.FlowsCapacity:N0} · drop ratio {f.DropRatio:P2}"));
            table.AddColumn("worker");
            table.AddColumn(new TableColumn(rates ? "rx pps" : "rx packets").RightAligned());
            table.AddColumn(new TableColumn("drops").RightAligned());
            table.AddColumn(new TableColumn("cycles/pkt").RightAligned());
            if (rates)
            {
                table.AddColumn(new TableColumn("busy").RightAligned());
            }

            table.AddColumn(new TableColumn("latency p50").RightAligned());
            table.AddColumn(new TableColumn("latency p99").RightAligned());
            foreach (WorkerFigures w in f.Workers)
            {
                WorkerSample raw = s.Workers.First(x => x.Id == w.Id);
                var cells = new List<string>
                {
                    w.Id.ToString(CultureInfo.InvariantCulture),
                    rates ? w.RxPps.ToString("N0", CultureInfo.InvariantCulture) : raw.RxPackets.ToString("N0", CultureInfo.InvariantCulture),
                    raw.Drops.ToString("N0", CultureInfo.InvariantCulture),
                    w.CyclesPerPacket.ToString("F0", CultureInfo.InvariantCulture),
                };
                if (rates)
                {
                    cells.Add(w.BusyRatio.ToString("P0", CultureInfo.InvariantCulture));
                }

                cells.Add(Duration(w.LatencyP50Ns));
                cells.Add(Duration(w.LatencyP99Ns));
                table.AddRow(cells.ToArray());
            }

            string queues = string.Join("  ", s.Queues.Where(q => q.Depth >= 0).Select(q => $"{q.Port}/{q.Queue}: {q.Depth}"));
            string drops = string.Join("  ", s.DropsByReason.Where(d => d.Value > 0).OrderByDescending(d => d.Value).Take(5).Select(d => $"{d.Key} {d.Value:N0}"));
            table.Caption(Markup.Escape($"rx queue depth  {queues}" + (drops.Length > 0 ? $"\ndrops  {drops}" : "")));
            rows.Add(table);
        }

        return new Rows(rows);
    }

    private static string Duration(double ns) => ns switch
    {
        0 => "-",
        < 1e3 => $"{ns:F0} ns",
        < 1e6 => $"{ns / 1e3:F1} µs",
        _ => $"{ns / 1e6:F1} ms",
    };

    /// <summary>The figures as JSON (the <c>--json</c> form of stats and its watch lines).</summary>
    public static void WriteJson(System.Text.Json.Utf8JsonWriter w, CardFigures f)
    {
        w.WriteStartObject();
        w.WriteString("card", f.Card);
        w.WriteBoolean("up", f.Up);
        if (!f.Up)
        {
            w.WriteString("problem", f.Problem);
            w.WriteEndObject();
            return;
        }

        w.WriteNumber("generation", f.Generation);
        w.WriteNumber("flows_active", f.FlowsActive);
        w.WriteNumber("flows_capacity", f.FlowsCapacity);
        w.WriteNumber("drop_ratio", f.DropRatio);
        w.WriteStartArray("workers");
        foreach (WorkerFigures x in f.Workers)
        {
            WorkerSample raw = f.Sample!.Workers.First(r => r.Id == x.Id);
            w.WriteStartObject();
            w.WriteNumber("id", x.Id);
            w.WriteNumber("rx_packets", raw.RxPackets);
            w.WriteNumber("drops", raw.Drops);
            w.WriteNumber("rx_pps", x.RxPps);
            w.WriteNumber("cycles_per_packet", x.CyclesPerPacket);
            w.WriteNumber("busy_ratio", x.BusyRatio);
            w.WriteNumber("latency_p50_ns", x.LatencyP50Ns);
            w.WriteNumber("latency_p99_ns", x.LatencyP99Ns);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartObject("drops_by_reason");
        foreach ((string reason, long count) in f.DropsByReason)
        {
            w.WriteNumber(reason, count);
        }

        w.WriteEndObject();
        w.WriteStartArray("rx_queue_depths");
        foreach (QueueDepth q in f.Sample!.Queues)
        {
            w.WriteStartObject();
            w.WriteString("port", q.Port);
            w.WriteNumber("queue", q.Queue);
            w.WriteNumber("depth", q.Depth);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }
}
