using SnicRuntime.Firmware.Ha.Channel;
using SnicRuntime.Firmware.Ha.Sync;
using SnicRuntime.Firmware;
using SnicRuntime.TestKit.Faults;
using System.Buffers.Binary;
using SnicRuntime.Firmware.Flows;
using SnicRuntime.Firmware.Ha;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.TestKit.Ha;

/// <summary>
/// Two cards in one process on one millisecond clock, joined by the deterministic fault-injecting
/// network, with an upstream that sends to whichever card holds the scope, clients that answer
/// only what was delivered, and a witness that behaves as <c>snicctl serve</c> does. Used by the
/// HA scenarios (bench/run.sh ha) and their tests; everything is decided by the seed.
/// </summary>
public sealed class HaTestBed : IDisposable
{
    public const string Scope = "scope-eni1";
    private const int NewFlowsPerStep = 4;
    private const int WitnessEveryMs = 50;
    private const int WitnessGrantAfterMs = 700; // the cards' witness silence (500 ms) plus a margin

    private readonly HaCard?[] _cards = new HaCard?[2];
    private readonly bool[] _witnessReaches = [true, true];
    private readonly long[] _lastWitnessContact = new long[2];
    private readonly Queue<(uint Src, ushort Port)> _synDelivered = new();
    private readonly List<(uint Src, ushort Port)> _acknowledged = [];
    private readonly Dictionary<(uint, ushort), string> _ackedHow = [];
    private readonly HaState[] _releasedIn = new HaState[2];
    private readonly int _capacity;
    private readonly int _preloaded;
    private readonly PacketRef[] _buffer = new PacketRef[64];
    private int _next;

    public HaTestBed(int seed, int preloadFlows)
    {
        Net = new FaultyNetwork(seed, () => Now);
        _capacity = Math.Max(65_536, preloadFlows * 2 + 200_000);
        _cards[0] = new HaCard(1, 2, Net.A, HaRole.Active, 1, _capacity);
        _cards[1] = new HaCard(2, 1, Net.B, HaRole.Standby, 1, _capacity);
        _cards[0]!.Preload(preloadFlows);
        _preloaded = _cards[0]!.Pipeline.V4.Count;
        Holder = 0;
        Term = 1;
    }

    public long Now { get; private set; }

    public FaultyNetwork Net { get; }

    /// <summary>The card the management plane records as holding the scope (0 or 1).</summary>
    public int Holder { get; private set; }

    public long Term { get; private set; }

    public long Injected { get; private set; }

    public long Delivered { get; private set; }

    /// <summary>Packets sent to, or in flight toward, a card that died.</summary>
    public long LostToDeadCards { get; private set; }

    /// <summary>Steps in which both cards decided new flows for the scope (must stay 0).</summary>
    public long BothForwardingSteps { get; private set; }

    public HaCard? Card(int i) => _cards[i];

    public HaState StateOf(int i) => _cards[i]?.State ?? HaState.Dead;

    public bool Alive(int i) => _cards[i] is not null;

    /// <summary>Flows whose first packet left the pair while the holder was replicating (so the peer had acknowledged them).</summary>
    public IReadOnlyList<(uint Src, ushort Port)> Acknowledged => _acknowledged;

    public void Kill(int i)
    {
        HaCard c = _cards[i]!;
        // Whatever waits in its queues dies with it.
        LostToDeadCards += c.Dp.EmulatedPort(0).RxPending + c.Pipeline.Hold!.Count;
        c.Dispose();
        _cards[i] = null;
    }

    /// <summary>A fresh card in slot <paramref name="i"/> (a restarted process: empty tables), joining as standby under the current term.</summary>
    public void Restart(int i)
    {
        _cards[i] = new HaCard((uint)i + 1, (uint)(2 - i), i == 0 ? Net.A : Net.B, HaRole.Standby, Term, _capacity);
    }

    /// <summary>Cuts (or restores) the management plane's reach to card <paramref name="i"/>.</summary>
    public void WitnessReaches(int i, bool reaches) => _witnessReaches[i] = reaches;

    /// <summary>Planned switchover: the next term, the holder hands over first.</summary>
    public void Switchover()
    {
        Term++;
        int from = Holder, to = 1 - Holder;
        _cards[from]!.Node.Command(Scope, new HaEvent(HaEventKind.Switchover, Term));
        _cards[to]!.Node.Command(Scope, new HaEvent(HaEventKind.Switchover, Term));
        Holder = to;
    }

    /// <summary>One millisecond: traffic, both cards, the network, the witness.</summary>
    public void Step(bool traffic = true)
    {
        if (traffic)
        {
            Traffic();
        }

        for (int i = 0; i < 2; i++)
        {
            if (_cards[i] is HaCard c)
            {
                c.Dp.Workers[0].PollOnce();
                _releasedIn[i] = c.State; // the state the worker's modes came from
                c.Node.Poll(Now);
            }
        }

        Network();
        Witness();
        if (_cards[0] is not null && _cards[1] is not null && _cards[0]!.Node.Scopes[0].Forwards && _cards[1]!.Node.Scopes[0].Forwards)
        {
            BothForwardingSteps++;
        }

        Now++;
    }

    public void Run(int steps, bool traffic = true)
    {
        for (int s = 0; s < steps; s++)
        {
            Step(traffic);
        }
    }

    /// <summary>Runs until <paramref name="done"/> or <paramref name="maxSteps"/>; returns the steps taken (-1: never).</summary>
    public long RunUntil(Func<bool> done, int maxSteps, bool traffic = true)
    {
        long start = Now;
        for (int s = 0; s < maxSteps; s++)
        {
            if (done())
            {
                return Now - start;
            }

            Step(traffic);
        }

        return done() ? Now - start : -1;
    }

    /// <summary>Both cards alive, the holder Active and the other Standby, nothing unacknowledged.</summary>
    public bool Synced =>
        _cards[0] is not null && _cards[1] is not null && StateOf(Holder) == HaState.Active && StateOf(1 - Holder) == HaState.Standby;

    /// <summary>Drops by reason on both cards (what "packets lost" is made of, apart from dead cards).</summary>
    public string Drops() => string.Join(' ', _cards.Where(c => c is not null).SelectMany(c => c!.Dp.DropsByReason())
        .GroupBy(d => d.Key).Select(g => $"{g.Key}:{g.Sum(x => x.Value)}"));

    /// <summary>For a failure message: the first few lost flows and what the other card knows of them.</summary>
    public string DescribeLost()
    {
        HaCard? holder = _cards[Holder], other = _cards[1 - Holder];
        if (holder is null)
        {
            return "no holder";
        }

        uint eni = (uint)holder.Store.Current!.Enis.First(e => e?.Name == "eni1")!.Index;
        var parts = new List<string>();
        foreach ((uint src, ushort port) in _acknowledged)
        {
            FlowKeyV4 key = FlowKeyV4.Create(eni, src, 0x0A010232, port, 80, IpProtocols.Tcp, out _);
            if (holder.Pipeline.V4.Lookup(key) >= 0)
            {
                continue;
            }

            int p = other?.Pipeline.V4.Lookup(key) ?? -1;
            parts.Add($"{src:X8}:{port} {_ackedHow.GetValueOrDefault((src, port))} other has it: {(p >= 0 ? other!.Pipeline.V4.Entry(p).Tcp + " v" + other.Pipeline.V4.Entry(p).Version + " flags " + other.Pipeline.V4.Entry(p).Flags : "no")}");
            if (parts.Count == 4)
            {
                break;
            }
        }

        WorkerSync w = holder.Node.Workers[0];
        return string.Join("; ", parts) + $"; holder aged {holder.Pipeline.V4.Counters.TotalAged} deleted {holder.Pipeline.V4.Counters.Deleted} revoked {holder.Pipeline.Counters.FlowsRevoked} " +
            $"count {holder.Pipeline.V4.Count}/{holder.Pipeline.V4.Capacity} install-full {w.InstallFull} insert-full {holder.Pipeline.V4.Counters.InsertFailedFull} installed {w.Installed} stale {w.InstallStale} " +
            $"skipped {holder.Node.Channel.Counters.Skipped} restarts {holder.Node.Channel.Counters.PeerRestarts}";
    }

    /// <summary>Flows the pair held when the scenario began (bulk-synced to the standby at pairing).</summary>
    public int Preloaded => _preloaded;

    /// <summary>Acknowledged flows (the preloaded ones and those made while paired) the holder does not have.</summary>
    public int FlowsLost()
    {
        HaCard? holder = _cards[Holder];
        if (holder is null)
        {
            return _acknowledged.Count + _preloaded;
        }

        int missingPreloaded = 0;
        for (int f = 0; f < _preloaded; f++)
        {
            if (holder.Pipeline.V4.Lookup(holder.PreloadedKey(f, 0, out _)) < 0)
            {
                missingPreloaded++;
            }
        }

        uint eni = (uint)holder.Store.Current!.Enis.First(e => e?.Name == "eni1")!.Index;
        int lost = missingPreloaded;
        foreach ((uint src, ushort port) in _acknowledged)
        {
            FlowKeyV4 key = FlowKeyV4.Create(eni, src, 0x0A010232, port, 80, IpProtocols.Tcp, out _);
            if (holder.Pipeline.V4.Lookup(key) < 0)
            {
                lost++;
            }
        }

        return lost;
    }

    // Upstream: new connections to the holder, and each delivered SYN's ACK.
    private void Traffic()
    {
        HaCard? to = _cards[Holder];
        for (int k = 0; k < NewFlowsPerStep; k++)
        {
            uint src = 0x0A040000u + (uint)(_next / 60000);
            ushort port = (ushort)(1024 + (_next % 60000));
            _next++;
            Send(to, HaCard.Frame(port, TcpFlags.Syn, src));
        }

        for (int k = 0; k < NewFlowsPerStep && _synDelivered.TryDequeue(out (uint Src, ushort Port) f); k++)
        {
            Send(to, HaCard.Frame(f.Port, TcpFlags.Ack, f.Src));
        }
    }

    private void Send(HaCard? to, byte[] frame)
    {
        Injected++;
        if (to is null)
        {
            LostToDeadCards++;
            return;
        }

        to.Inject(frame);
    }

    // Frames to the other card's underlay address go there; the rest left the pair.
    private void Network()
    {
        for (int i = 0; i < 2; i++)
        {
            if (_cards[i] is not HaCard from)
            {
                continue;
            }

            HaCard? other = _cards[1 - i];
            uint otherAddress = 0xAC100200u + (uint)(2 - i);
            int n;
            while ((n = from.Dp.EmulatedPort(0).Drain(_buffer)) > 0)
            {
                for (int k = 0; k < n; k++)
                {
                    Span<byte> f = _buffer[k].Data;
                    if (BinaryPrimitives.ReadUInt32BigEndian(f[(14 + 16)..]) == otherAddress)
                    {
                        if (other is null)
                        {
                            LostToDeadCards++;
                        }
                        else
                        {
                            other.Inject(f.ToArray());
                        }

                        continue;
                    }

                    Delivered++;
                    if (PacketParser.Parse(f, out ParsedPacket p) == DropReason.None && (p.TcpFlags & (byte)TcpFlags.Syn) != 0)
                    {
                        uint src = BinaryPrimitives.ReadUInt32BigEndian(f[(p.L3 + 12)..]);
                        _synDelivered.Enqueue((src, p.SrcPort));
                        if (_releasedIn[i] is HaState.Active or HaState.InitializingToActive or HaState.SwitchingToStandby or HaState.SwitchingToActive or HaState.Standby)
                        {
                            _acknowledged.Add((src, p.SrcPort)); // made while paired: held until the peer had it
                            _ackedHow[(src, p.SrcPort)] = $"@{Now} by card {i} in {_releasedIn[i]} (peer {_cards[1 - i]?.State})";
                        }
                    }
                }

                from.Dp.Pool.FreeBulk(_buffer.AsSpan(0, n));
            }
        }
    }

    // The management plane: reaches the cards it can every 50 ms; grants the standby the next term
    // when its peer is lost and the holder is dead or out of its reach for longer than the cards'
    // witness silence.
    private void Witness()
    {
        if (Now % WitnessEveryMs != 0)
        {
            return;
        }

        for (int i = 0; i < 2; i++)
        {
            if (_cards[i] is HaCard c && _witnessReaches[i])
            {
                c.Node.WitnessHeard();
                _lastWitnessContact[i] = Now;
            }
        }

        int standby = 1 - Holder;
        HaCard? s = _cards[standby];
        if (s is null || s.Node.PeerUp || !_witnessReaches[standby] || s.State is not (HaState.Standby or HaState.SwitchingToActive))
        {
            return;
        }

        bool holderGone = _cards[Holder] is null || Now - _lastWitnessContact[Holder] > WitnessGrantAfterMs;
        if (holderGone && !s.Node.Command(Scope, new HaEvent(HaEventKind.TakeoverGranted, Term + 1)).Refused)
        {
            Term++;
            Holder = standby;
        }
    }

    public void Dispose()
    {
        _cards[0]?.Dispose();
        _cards[1]?.Dispose();
    }
}
