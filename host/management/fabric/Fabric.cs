using System.Diagnostics;
using SnicRuntime.Contracts.Fabric;
using SnicRuntime.Hal.Shm;

namespace SnicRuntime.Management.Fabric;

/// <summary>
/// The fabric between card processes: the ToR (NPU) of DASH's smart switch and the hosts behind
/// it. It owns one shared-memory link per card (<see cref="ShmLink"/>), steers each ENI's traffic
/// to the card its scope is decided on (<see cref="FabricSteering"/>, from the cards'
/// announcements), forwards what a card sends to another card's underlay address (a standby's
/// redirect), and plays the endpoints: the VM side and the remote side of every ENI, whose
/// connections and census judge a fault run. One thread does all of it.
/// </summary>
public sealed class Fabric : IDisposable
{
    private readonly IReadOnlyList<FabricCard> _cards;
    private readonly IReadOnlyList<FabricEni> _enis;
    private readonly FabricOptions _options;
    private readonly ShmLink[] _links;
    private readonly ulong[] _statusSeq;
    private readonly FabricConnections _connections;
    private readonly long[][] _lastSynAt;
    private readonly byte[] _frame = new byte[2048];
    private readonly byte[] _status = new byte[ShmLink.StatusCapacity];
    private readonly Lock _gate = new();
    private Thread? _thread;
    private volatile bool _stop;
    private volatile bool _trafficOn;

    public Fabric(IReadOnlyList<FabricCard> cards, IReadOnlyList<FabricEni> enis, FabricOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(cards);
        ArgumentNullException.ThrowIfNull(enis);
        _cards = cards;
        _enis = enis;
        _options = options ?? new FabricOptions();
        _links = new ShmLink[cards.Count];
        try
        {
            for (int i = 0; i < cards.Count; i++)
            {
                _links[i] = ShmLink.Create(cards[i].LinkPath);
            }
        }
        catch
        {
            foreach (ShmLink? l in _links)
            {
                l?.Dispose();
            }

            throw;
        }

        _statusSeq = new ulong[cards.Count];
        Census = new FabricCensus(enis);
        Steering = new FabricSteering(enis, cards.Count);
        _connections = new FabricConnections(enis, _options, Census);
        _lastSynAt = [.. enis.Select(_ => new long[cards.Count])];
        CardArrivals = new long[cards.Count];
    }

    public FabricCensus Census { get; }

    public FabricSteering Steering { get; }

    /// <summary>Frames that came out of each card toward an endpoint.</summary>
    public long[] CardArrivals { get; }

    /// <summary>Frames a card sent to another card's underlay (a standby's redirect), forwarded.</summary>
    public long Redirected { get; private set; }

    /// <summary>Frames from cards that were neither for a card nor one of ours.</summary>
    public long Foreign { get; private set; }

    /// <summary>Broken connections: when the step that never arrived was first sent, the ENI, the connection and the step.</summary>
    public IReadOnlyList<(long StepSentAt, int Eni, uint Id, int Step, bool Acknowledged)> Breaks => _connections.Breaks;

    /// <summary>Every announcement read (when, card, what it said in short), the first 10,000: what a run's timeline is read from.</summary>
    public List<(long At, int Card, string Said)> Announcements { get; } = [];

    /// <summary>Connections running now.</summary>
    public int LiveConnections => _connections.Live;

    /// <summary>Runs the fabric's loop on its own thread; traffic starts with <see cref="StartTraffic"/>.</summary>
    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "fabric" };
        _thread.Start();
    }

    public void StartTraffic()
    {
        lock (_gate)
        {
            _connections.Start(Stopwatch.GetTimestamp());
            _trafficOn = true;
        }
    }

    /// <summary>Stops opening connections; running ones finish (or break) within the steps and deadlines they have.</summary>
    public void StopOpening()
    {
        lock (_gate)
        {
            _connections.StopOpening();
        }
    }

    /// <summary>Opens connections again after <see cref="StopOpening"/> (the next phase of a run).</summary>
    public void ResumeOpening()
    {
        lock (_gate)
        {
            _connections.ResumeOpening(Stopwatch.GetTimestamp());
        }
    }

    /// <summary>Takes card <paramref name="card"/>'s link down or up (the fabric-facing link fault).</summary>
    public void SetLink(int card, bool up) => _links[card].LinkUp = up;

    /// <summary>A consistent sample of the census (taken between two rounds of the loop).</summary>
    public EniCensus Sample()
    {
        lock (_gate)
        {
            return Census.Total();
        }
    }

    /// <summary>Reads under the loop's lock: for a consistent view of steering and census together.</summary>
    public T Read<T>(Func<Fabric, T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        lock (_gate)
        {
            return read(this);
        }
    }

    private void Run()
    {
        while (!_stop)
        {
            int moved;
            lock (_gate)
            {
                moved = Round(Stopwatch.GetTimestamp());
            }

            if (moved == 0)
            {
                if (_options.IdleSleepMs > 0)
                {
                    Thread.Sleep(_options.IdleSleepMs);
                }
                else
                {
                    Thread.Yield();
                }
            }
        }
    }

    /// <summary>One round: announcements, what the cards sent, what is due to send. Returns frames moved.</summary>
    internal int Round(long now)
    {
        for (int c = 0; c < _links.Length; c++)
        {
            if (_links[c].TryReadStatus(ref _statusSeq[c], _status, out int length) && CardStatus.Parse(_status.AsSpan(0, length), out _) is CardStatus s)
            {
                Steering.Update(c, s, now);
                if (Announcements.Count < 10_000)
                {
                    Announcements.Add((now, c, $"peer {(s.PeerUp ? "up" : "lost")} " + string.Join(" ", s.Scopes.Select(x => $"{x.Name}={x.State}@{x.Term}"))));
                }
            }
        }

        int moved = 0;
        for (int c = 0; c < _links.Length; c++)
        {
            moved += FromCard(c, now);
        }

        if (_trafficOn)
        {
            moved += _connections.Tick(now, Send);
        }

        return moved;
    }

    private int FromCard(int card, long now)
    {
        ShmRing ring = _links[card].Ring(0, toCard: false);
        int ready = ring.Ready();
        for (int i = 0; i < ready; i++)
        {
            ReadOnlySpan<byte> frame = ring.Peek(i, out bool oversize);
            if (oversize || !FabricFrames.TryOuterDestination(frame, out uint destination))
            {
                Foreign++;
                continue;
            }

            int target = CardAt(destination);
            if (target >= 0)
            {
                Redirected++;
                if (!_links[target].LinkUp || !_links[target].Ring(0, toCard: true).TrySend(frame))
                {
                    Foreign++; // the redirect target's wire is full or down; the endpoint's retransmission covers it
                }

                continue;
            }

            if (!FabricFrames.TryReadTag(frame, out uint id, out int step, out _))
            {
                Foreign++;
                continue;
            }

            CardArrivals[card]++;
            int eni = _connections.Arrived(id, step, now, out bool first);
            if (eni >= 0 && first)
            {
                NoteDecision(eni, card, now);
            }
        }

        ring.Release(ready);
        return ready;
    }

    /// <summary>A SYN left card <paramref name="card"/>: if another card released one for the same ENI within a millisecond, two cards were deciding it.</summary>
    private void NoteDecision(int eni, int card, long now)
    {
        long[] last = _lastSynAt[eni];
        long ms = Stopwatch.Frequency / 1000;
        for (int c = 0; c < last.Length; c++)
        {
            if (c != card && last[c] != 0 && now - last[c] < ms && (last[card] == 0 || now - last[card] >= ms))
            {
                Census.Enis[eni].BothDecidingMs++;
            }
        }

        last[card] = now;
    }

    private bool Send(int eni, FabricVm remote, ushort clientPort, uint id, int step, int attempt)
    {
        int card = Steering.CardOf(eni);
        if (card < 0)
        {
            Census.Enis[eni].Unsteered++;
            return false;
        }

        int length = FabricFrames.Write(_frame, _enis[eni], remote, clientPort, id, step, attempt);
        if (!_links[card].LinkUp || !_links[card].Ring(0, toCard: true).TrySend(_frame.AsSpan(0, length)))
        {
            Census.Enis[eni].WireFull++;
            return false;
        }

        return true;
    }

    private int CardAt(uint underlay)
    {
        for (int c = 0; c < _cards.Count; c++)
        {
            if (_cards[c].Underlay == underlay)
            {
                return c;
            }
        }

        return -1;
    }

    public void Dispose()
    {
        _stop = true;
        _thread?.Join();
        foreach (ShmLink l in _links)
        {
            l.Dispose();
            try
            {
                File.Delete(l.Path);
            }
            catch (IOException)
            {
                // a link file left in /dev/shm is harmless; the next fabric re-creates it
            }
        }
    }
}
