using System.Globalization;

namespace SnicRuntime.Management.Fleet;

/// <summary>
/// Where one delivery round's time went: reading the desired state (the plan snapshot, the
/// placement, the delivery records), cutting the shares, and for each card sent to, the wait for a
/// slot, the question (what do you run?), the apply and the record in the store. A controller logs
/// it for every round that sent something (<see cref="Line"/>); the fleet benchmark reads those
/// lines to break a change's latency into phases, so a slow tail can be pinned on one of them.
/// </summary>
public sealed record RoundTrace(DateTimeOffset Started, TimeSpan Plan, TimeSpan Placement, TimeSpan Records, TimeSpan Slice, IReadOnlyList<CardTrace> Cards)
{
    /// <summary>The marker <see cref="Line"/> starts with.</summary>
    public const string Marker = "fleet delivery round:";

    /// <summary>The most cards a <see cref="Line"/> names (a round that sent to more is a snapshot, not a change).</summary>
    public const int NamedCards = 8;

    /// <summary>
    /// <c>fleet delivery round: started=UNIX_MS plan=MS placement=MS records=MS slice=MS sent=N queued=MS lookup=MS ask=MS apply=MS record=MS cards=A,B</c>;
    /// per-card phases are the slowest card's, as the slowest card is when a change is done; the
    /// cards are named when they are few (<see cref="NamedCards"/>).
    /// </summary>
    public string Line()
    {
        static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);
        TimeSpan Max(Func<CardTrace, TimeSpan> phase) => Cards.Count == 0 ? TimeSpan.Zero : Cards.Max(phase);
        return $"{Marker} started={Started.ToUnixTimeMilliseconds()} plan={Ms(Plan)} placement={Ms(Placement)} records={Ms(Records)} slice={Ms(Slice)} " +
            $"sent={Cards.Count} queued={Ms(Max(c => c.Queued))} lookup={Ms(Max(c => c.Lookup))} ask={Ms(Max(c => c.Ask))} apply={Ms(Max(c => c.Apply))} record={Ms(Max(c => c.Record))}" +
            (Cards.Count is > 0 and <= NamedCards ? " cards=" + string.Join(',', Cards.Select(c => c.Card)) : "");
    }

    /// <summary>Reads a <see cref="Line"/> back (from a controller's log): its figures and the cards it names; null when the text holds none.</summary>
    public static (IReadOnlyDictionary<string, double> Fields, IReadOnlyList<string> Cards)? Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int at = text.IndexOf(Marker, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var fields = new Dictionary<string, double>(StringComparer.Ordinal);
        string[] cards = [];
        foreach (string pair in text[(at + Marker.Length)..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && pair[..eq] == "cards")
            {
                cards = pair[(eq + 1)..].Split(',');
            }
            else if (eq > 0 && double.TryParse(pair[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
            {
                fields[pair[..eq]] = v;
            }
        }

        return fields.ContainsKey("started") ? (fields, cards) : null;
    }
}

/// <summary>One card's part of a round: waiting for a slot, finding it in the inventory (and its client), asking what it runs, applying its share, recording the outcome.</summary>
public sealed record CardTrace(string Card, TimeSpan Queued, TimeSpan Lookup, TimeSpan Ask, TimeSpan Apply, TimeSpan Record);
