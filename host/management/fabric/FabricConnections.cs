namespace SnicRuntime.Management.Fabric;

/// <summary>
/// The endpoints' connections: each ENI keeps <see cref="FabricOptions.ConnectionsPerEni"/> open,
/// each a ping-pong of steps (the next step leaves a gap after the previous one arrived), with
/// retransmission and a break deadline. Events come off one priority queue by due time, so the
/// cost is per packet, not per connection per loop.
/// </summary>
internal sealed class FabricConnections
{
    private struct Connection
    {
        public uint Id;
        public int Eni;
        public int Remote;
        public ushort ClientPort;
        public int Step;
        public int Attempt;
        public long StepFirstSent;
        public bool Acknowledged;
        public bool Live;
    }

    private readonly IReadOnlyList<FabricEni> _enis;
    private readonly FabricOptions _options;
    private readonly FabricCensus _census;
    private readonly Connection[] _connections;
    private readonly PriorityQueue<(int Slot, uint Id, int Step, int Attempt), long> _due = new();
    private readonly long _gap, _rto, _break;
    private uint _nextId = 1;
    private bool _opening = true;

    public FabricConnections(IReadOnlyList<FabricEni> enis, FabricOptions options, FabricCensus census)
    {
        _enis = enis;
        _options = options;
        _census = census;
        _connections = new Connection[enis.Count * options.ConnectionsPerEni];
        _gap = Ticks(options.StepGapMs);
        _rto = Ticks(options.RetransmitMs);
        _break = Ticks(options.BreakMs);
    }

    /// <summary>Connections still running.</summary>
    public int Live { get; private set; }

    private static long Ticks(double ms) => (long)(ms * System.Diagnostics.Stopwatch.Frequency / 1000);

    /// <summary>Opens the first connection of every slot, spread over one gap so they do not start in one burst.</summary>
    public void Start(long now)
    {
        for (int slot = 0; slot < _connections.Length; slot++)
        {
            _due.Enqueue((slot, 0, -1, 0), now + _gap * slot / Math.Max(1, _connections.Length));
        }
    }

    /// <summary>Stops opening connections; running ones finish.</summary>
    public void StopOpening() => _opening = false;

    /// <summary>Opens connections again in every slot that has none running (a new phase of a run).</summary>
    public void ResumeOpening(long now)
    {
        _opening = true;
        for (int slot = 0; slot < _connections.Length; slot++)
        {
            if (!_connections[slot].Live)
            {
                _due.Enqueue((slot, 0, -1, 0), now + _gap * slot / Math.Max(1, _connections.Length));
            }
        }
    }

    /// <summary>Sends whatever is due by <paramref name="now"/> through <paramref name="send"/> (ENI, remote, port, id, step, attempt → sent). Returns packets handed over.</summary>
    public int Tick(long now, Func<int, FabricVm, ushort, uint, int, int, bool> send)
    {
        int sent = 0;
        while (_due.TryPeek(out (int Slot, uint Id, int Step, int Attempt) e, out long at) && at <= now)
        {
            _due.Dequeue();
            ref Connection c = ref _connections[e.Slot];
            if (e.Step < 0)
            {
                if (c.Live || !_opening)
                {
                    continue;
                }

                Open(ref c, e.Slot);
            }
            else if (!c.Live || c.Id != e.Id || c.Step != e.Step || (e.Attempt >= 0 && c.Attempt != e.Attempt))
            {
                continue; // stale: the step arrived meanwhile, or the connection ended
            }
            else if (e.Attempt < 0)
            {
                // the next step's first send (queued when the previous one arrived)
            }
            else if (now - c.StepFirstSent >= _break)
            {
                Break(ref c, e.Slot, now);
                continue;
            }
            else
            {
                c.Attempt++;
                _census.Enis[c.Eni].Retransmits++;
            }

            if (c.Attempt == 0)
            {
                c.StepFirstSent = now;
            }

            FabricEni eni = _enis[c.Eni];
            _census.Enis[c.Eni].PacketsSent++;
            if (send(c.Eni, eni.Remotes[c.Remote], c.ClientPort, c.Id, c.Step, c.Attempt))
            {
                sent++;
            }

            _due.Enqueue((e.Slot, c.Id, c.Step, c.Attempt), now + _rto);
        }

        return sent;
    }

    /// <summary>A tagged packet arrived at an endpoint. Returns the connection's ENI, or -1 for a packet of no live connection.</summary>
    public int Arrived(uint id, int step, long now, out bool firstOfConnection)
    {
        firstOfConnection = false;
        int slot = SlotOf(id);
        if (slot < 0)
        {
            return -1;
        }

        ref Connection c = ref _connections[slot];
        EniCensus census = _census.Enis[c.Eni];
        census.PacketsArrived++;
        if (!c.Live || step != c.Step)
        {
            census.Duplicates++;
            return c.Eni;
        }

        if (step == 0)
        {
            c.Acknowledged = true;
            census.Acknowledged++;
            firstOfConnection = true;
        }

        c.Step++;
        c.Attempt = 0;
        if (c.Step >= _options.StepsPerConnection)
        {
            census.Completed++;
            End(ref c, slot, now);
        }
        else
        {
            _due.Enqueue((slot, c.Id, c.Step, -1), now + _gap);
        }

        return c.Eni;
    }

    private int SlotOf(uint id)
    {
        if (id == 0 || id >= _nextId)
        {
            return -1;
        }

        int slot = (int)((id - 1) % (uint)_connections.Length);
        return _connections[slot].Id == id ? slot : -1;
    }

    private void Open(ref Connection c, int slot)
    {
        // Ids advance per slot so that id → slot is arithmetic (id - 1) mod slots.
        uint id = c.Id == 0 ? (uint)slot + 1 : c.Id + (uint)_connections.Length;
        _nextId = Math.Max(_nextId, id + 1);
        c = new Connection
        {
            Id = id,
            Eni = slot / _options.ConnectionsPerEni,
            Remote = (int)(id % (uint)_enis[slot / _options.ConnectionsPerEni].Remotes.Count),
            ClientPort = (ushort)(10000 + id % 50000),
            Live = true,
        };
        Live++;
        _census.Enis[c.Eni].Opened++;
    }

    /// <summary>Every broken connection: when its step was first sent, its ENI, id and the step that never arrived (what a failed run is read by).</summary>
    public List<(long StepSentAt, int Eni, uint Id, int Step, bool Acknowledged)> Breaks { get; } = [];

    private void Break(ref Connection c, int slot, long now)
    {
        Breaks.Add((c.StepFirstSent, c.Eni, c.Id, c.Step, c.Acknowledged));
        EniCensus census = _census.Enis[c.Eni];
        if (c.Acknowledged)
        {
            census.FlowsLost++;
        }
        else
        {
            census.Refused++;
        }

        End(ref c, slot, now);
    }

    private void End(ref Connection c, int slot, long now)
    {
        c.Live = false;
        Live--;
        if (_opening)
        {
            _due.Enqueue((slot, 0, -1, 0), now + _gap);
        }
    }
}
