using SnicRuntime.Contracts.Fabric;
using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Pipeline;
using SnicRuntime.Hal;

namespace SnicRuntime.Firmware.Ha;

/// <summary>
/// Tells the fabric at the far end of an announcing port (<see cref="IAnnouncingPort"/>) which ENIs
/// this card serves, per HA scope, in which state and term, and whether each is ready — what DASH's
/// DPU advertises to its NPU, which steers each ENI to the card active for it. An unpaired card
/// announces every ENI of its plan as its own. Checks every millisecond and writes only on a
/// change, so a takeover or a step-down reaches the fabric within about a millisecond.
/// </summary>
public sealed class CardAnnouncer : IDisposable
{
    private readonly IAnnouncingPort _port;
    private readonly PolicyStore _policy;
    private readonly Func<HaNode?> _node;
    private readonly Thread _thread;
    private volatile bool _stop;
    private long _signature = -1;

    public CardAnnouncer(IAnnouncingPort port, PolicyStore policy, Func<HaNode?> node)
    {
        _port = port ?? throw new ArgumentNullException(nameof(port));
        _policy = policy ?? throw new ArgumentNullException(nameof(policy));
        _node = node ?? throw new ArgumentNullException(nameof(node));
        _thread = new Thread(Run) { IsBackground = true, Name = "fabric-announce" };
    }

    /// <summary>Announcements written (one per change).</summary>
    public long Announcements { get; private set; }

    public void Start() => _thread.Start();

    private void Run()
    {
        while (!_stop)
        {
            AnnounceIfChanged();
            Thread.Sleep(1);
        }
    }

    /// <summary>Writes the status when anything in it changed since the last write.</summary>
    public void AnnounceIfChanged()
    {
        HaNode? node = _node();
        long generation = _policy.Current?.Generation ?? 0;
        // A cheap fingerprint of what the status says, so the JSON is built only on a change.
        long sig = generation * 31 + (node is null ? 1 : node.PeerUp ? 2 : 3) + (node is null ? 0 : node.GetHashCode() * 7L);
        if (node is not null)
        {
            foreach (HaStateMachine m in node.Scopes)
            {
                sig = sig * 1_000_003 + ((long)m.State << 40) + m.Term;
            }
        }

        if (sig == _signature)
        {
            return;
        }

        _signature = sig;
        var status = new CardStatus { Generation = generation, PeerUp = node?.PeerUp ?? false };
        if (node is not null)
        {
            status.Card = node.CardId;
            foreach (HaStateMachine m in node.Scopes)
            {
                status.Scopes.Add(new ScopeStatus
                {
                    Name = m.Scope,
                    Enis = [.. node.EnisOf(m.Scope)],
                    State = m.State.ToString(),
                    Term = m.Term,
                    Forwarding = m.Forwards,
                    Ready = m.State is HaState.Active or HaState.Standalone,
                });
            }
        }
        else if (_policy.Current is { } tables)
        {
            status.Scopes.Add(new ScopeStatus
            {
                Enis = [.. (tables.Source.Enis ?? []).Where(e => e.Name is not null && e.AdminState != "down").Select(e => e.Name!)],
                State = "Unpaired",
                Forwarding = true,
                Ready = true,
            });
        }

        _port.Announce(status.ToJson());
        Announcements++;
    }

    public void Dispose()
    {
        _stop = true;
        if (_thread.IsAlive)
        {
            _thread.Join();
        }
    }
}
