namespace SnicRuntime.Management;

/// <summary>
/// Collects every card's counters on an interval and derives the figures an operator watches
/// (<see cref="CardFigures"/>): packets per second and cycles per packet per worker, burst-latency
/// percentiles, drop ratio (overall and by reason), flow occupancy, rx queue depths, whether the
/// card answers and at which generation. Served as Prometheus text
/// (<see cref="RenderPrometheus"/>) and, optionally, pushed over OTLP (<see cref="TelemetryOtlp"/>).
/// </summary>
public sealed partial class TelemetryCollector(ManagementStore store, ManagementIdentity? identity = null)
{
    private readonly Dictionary<string, CardSample> _last = [];
    private readonly Lock _gate = new();
    private IReadOnlyList<CardFigures> _figures = [];

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

    /// <summary>
    /// The fleet's inventory (<c>Fleet.FleetDelivery.InventoryCards</c>): cards any host added
    /// are collected too. A store that cannot answer costs those cards for that collection only;
    /// this host's own are collected whatever the store does. Null: this host's inventory only.
    /// </summary>
    public Func<CancellationToken, Task<IReadOnlyList<Card>>>? FleetCards { get; set; }

    /// <summary>
    /// Cards asked at once (a dead card then costs the others one timeout, not one each). One by
    /// default: every controller collects, and on the fleet bench's two cores, 4 or 16 cards
    /// answering at once starved the leader's lease keep-alive (controller failover 2.1-2.7 s,
    /// against 1.6 s one at a time, 2026-12-05). Raise it where cards and controllers have cores.
    /// </summary>
    public int Parallel { get; init; } = 1;

    /// <summary>Raised after each collection (the OTLP exporter and live views read <see cref="Latest"/>).</summary>
    public event Action<IReadOnlyList<CardFigures>>? Collected;

    /// <summary>Polls every card once and updates the figures.</summary>
    public async Task Collect(CancellationToken cancel = default)
    {
        IReadOnlyList<Card> cards = store.Cards();
        if (FleetCards is not null)
        {
            try
            {
                cards = Fleet.FleetInventory.Merge(cards, await FleetCards(cancel).ConfigureAwait(false));
            }
            catch (Store.StoreException)
            {
                // No quorum, or no store: this host's cards still report.
            }
        }

        var collected = new CardFigures[cards.Count];
        await System.Threading.Tasks.Parallel.ForAsync(0, cards.Count, new ParallelOptions { MaxDegreeOfParallelism = Parallel, CancellationToken = cancel },
            async (i, token) => collected[i] = await CollectOne(cards[i], token).ConfigureAwait(false)).ConfigureAwait(false);
        List<CardFigures> figures = [.. collected];

        lock (_gate)
        {
            _figures = figures;
        }

        Collected?.Invoke(figures);
    }

    private async Task<CardFigures> CollectOne(Card card, CancellationToken cancel)
    {
        using var client = new AgentClient(card, TimeSpan.FromSeconds(5), identity);
        AgentReply reply = await client.Get("/v1/counters", cancel).ConfigureAwait(false);
        if (!reply.Ok)
        {
            return CardFigures.Down(card.Name, reply.Reason);
        }

        CardSample now;
        try
        {
            now = CardSample.Parse(reply.Body!.Value, DateTimeOffset.UtcNow);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            // An agent of another firmware version may answer differently: say so, keep collecting.
            return CardFigures.Down(card.Name, $"card '{card.Name}' answered /v1/counters in a form this snicctl does not read ({e.Message})");
        }

        lock (_gate)
        {
            _last.TryGetValue(card.Name, out CardSample? previous);
            _last[card.Name] = now;
            return CardFigures.Derive(card.Name, previous, now);
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
}
