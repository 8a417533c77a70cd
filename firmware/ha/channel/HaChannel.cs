namespace SnicRuntime.Firmware.Ha.Channel;

/// <summary>Settings of a replication channel.</summary>
public sealed record HaChannelOptions
{
    /// <summary>Largest payload of one frame (before compression). 8 KB suits loopback and jumbo links; use ~1400 across a 1500-MTU underlay.</summary>
    public int MaxPayload { get; init; } = 8192;

    /// <summary>Frames in flight (sent, not yet acknowledged) and frames buffered out of order.</summary>
    public int Window { get; init; } = 512;

    /// <summary>Retransmission timeout of a frame's first resend; doubles per resend up to <see cref="MaxRetransmitMs"/>.</summary>
    public long RetransmitMs { get; init; } = 20;

    public long MaxRetransmitMs { get; init; } = 250;

    /// <summary>Compress payloads larger than this (LZ4 block format) when it makes them smaller.</summary>
    public int CompressAbove { get; init; } = 256;
}

/// <summary>Gets what a channel delivers: payloads in the sender's order, exactly once, and probes.</summary>
public interface IHaReceiver
{
    void OnPayload(ReadOnlySpan<byte> payload);

    /// <summary>The peer started a new run (it restarted): whatever it held is gone; the HA layer resynchronises.</summary>
    void OnPeerRestarted();

    void OnProbe(ReadOnlySpan<byte> payload);
}

/// <summary>
/// The replication channel between two cards: framed, sequenced, acknowledged (cumulative ack
/// plus a 64-frame selective bitmap), retransmitted with backoff, delivered in order exactly once,
/// compressed per frame (LZ4 block format) and sealed with AES-256-GCM (<see cref="HaCrypto"/>). Replayed, forged,
/// stale and out-of-window frames are rejected and counted by reason (<see cref="HaDrop"/>).
/// </summary>
/// <remarks>
/// Single-threaded by design: one sync thread owns a channel and drives it with
/// <see cref="Poll"/> and an explicit clock, which is also what makes it deterministic under the
/// fault-injecting link. Buffers for the send and receive windows are allocated once.
/// </remarks>
public sealed partial class HaChannel : IDisposable
{
    private readonly IDatagramLink _link;
    private readonly HaChannelOptions _options;
    private readonly byte[] _pairingKey;
    private readonly uint _localId;
    private readonly uint _peerId;
    private readonly HaCrypto _sealer;
    private readonly ulong _epoch;
    private ulong _counter;

    // Send window: ring of frames [_base, _nextSeq).
    private readonly byte[][] _sendPlain;
    private readonly int[] _sendLength;
    private readonly HaFrameFlags[] _sendFlags;
    private readonly long[] _sendAtMs;
    private readonly long[] _sendRto;
    private readonly bool[] _sendSacked;
    private ulong _nextSeq = 1;
    private ulong _base = 1; // oldest unacknowledged

    // Receive side, per peer run (epoch).
    private HaCrypto? _opener;
    private ulong _peerEpoch;
    private ReplayWindow _replay;
    private ulong _delivered;
    private readonly byte[][] _recvPlain;
    private readonly int[] _recvLength;
    private readonly bool[] _recvHeld;
    private bool _ackDue;

    private readonly Lz4Block _compressor = new();
    private readonly byte[] _datagram;
    private readonly byte[] _scratch; // frames being sealed
    private readonly byte[] _opened;  // frames being opened (a receiver may send while it reads one)

    public HaChannel(IDatagramLink link, ReadOnlySpan<byte> pairingKey, uint localId, uint peerId, HaChannelOptions? options = null, ulong? epoch = null)
    {
        _link = link ?? throw new ArgumentNullException(nameof(link));
        _options = options ?? new HaChannelOptions();
        if (_options.MaxPayload is < 64 or > 60_000 || _options.Window is < 8 or > 64 * 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxPayload must be 64..60000 and Window 8..65536");
        }

        if (localId == peerId)
        {
            throw new ArgumentException("the two ends of a channel need different ids");
        }

        _pairingKey = pairingKey.ToArray();
        _localId = localId;
        _peerId = peerId;
        // A run's epoch is its start time in µs: later runs have later epochs, so a recorded frame
        // of an earlier run is recognisably stale, and each run has its own key.
        _epoch = epoch ?? (ulong)(DateTime.UtcNow - DateTime.UnixEpoch).Ticks / 10;
        _sealer = new HaCrypto(_pairingKey, localId, _epoch);
        int w = _options.Window;
        int frame = HaFrameHeader.Size + _options.MaxPayload + 1024 + HaCrypto.TagSize; // room for a frame that did not shrink
        _sendPlain = new byte[w][];
        _recvPlain = new byte[w][];
        for (int i = 0; i < w; i++)
        {
            _sendPlain[i] = new byte[_options.MaxPayload + 1024];
            _recvPlain[i] = new byte[_options.MaxPayload];
        }

        _sendLength = new int[w];
        _sendFlags = new HaFrameFlags[w];
        _sendAtMs = new long[w];
        _sendRto = new long[w];
        _sendSacked = new bool[w];
        _recvLength = new int[w];
        _recvHeld = new bool[w];
        _datagram = new byte[frame];
        _scratch = new byte[frame];
        _opened = new byte[frame];
    }

    public HaChannelCounters Counters { get; } = new();

    public int MaxPayload => _options.MaxPayload;

    /// <summary>Sequence numbers up to this one are acknowledged by the peer.</summary>
    public ulong Acked => _base - 1;

    /// <summary>The last sequence number handed out by <see cref="Send"/>.</summary>
    public ulong LastSent => _nextSeq - 1;

    /// <summary>True when the send window has room for another frame.</summary>
    public bool CanSend => _nextSeq - _base < (ulong)_options.Window;

    /// <summary>Frames sent and not yet acknowledged.</summary>
    public int InFlight => (int)(_nextSeq - _base);

    /// <summary>When the peer was last heard from (any authenticated frame), in the caller's clock; -1 never.</summary>
    public long LastHeardMs { get; private set; } = -1;

    /// <summary>When the peer's last probe arrived (liveness is probes, as BFD's: they carry its state and term); -1 never.</summary>
    public long LastProbeMs { get; private set; } = -1;

    /// <summary>This run's epoch (tests use it to forge and replay).</summary>
    public ulong Epoch => _epoch;

    /// <summary>The peer's frames delivered so far (its sequence numbers up to this one).</summary>
    public ulong Delivered => _delivered;

    /// <summary>The peer run this channel currently talks to (0 before the first verified frame).</summary>
    public ulong PeerEpoch => _peerEpoch;

    /// <summary>
    /// Queues <paramref name="payload"/> as the next frame and sends it. Returns its sequence
    /// number, or 0 when the window is full (the caller keeps the payload and tries later).
    /// </summary>
    public ulong Send(ReadOnlySpan<byte> payload, long nowMs)
    {
        if (payload.Length > _options.MaxPayload)
        {
            throw new ArgumentException($"payload of {payload.Length} bytes is larger than the channel's {_options.MaxPayload}", nameof(payload));
        }

        if (!CanSend)
        {
            Counters.WindowFull++;
            return 0;
        }

        ulong seq = _nextSeq++;
        int slot = Slot(seq);
        HaFrameFlags flags = HaFrameFlags.None;
        int length = payload.Length;
        if (payload.Length > _options.CompressAbove
            && _compressor.TryCompress(payload, _sendPlain[slot], out int packed) && packed < payload.Length)
        {
            flags = HaFrameFlags.Compressed;
            length = packed;
        }
        else
        {
            payload.CopyTo(_sendPlain[slot]);
        }

        Counters.PayloadBytes += payload.Length;
        Counters.WireBytes += length;
        _sendLength[slot] = length;
        _sendFlags[slot] = flags;
        _sendRto[slot] = _options.RetransmitMs;
        _sendSacked[slot] = false;
        Transmit(HaFrameType.Data, flags, seq, _sendPlain[slot].AsSpan(0, length));
        _sendAtMs[slot] = nowMs;
        Counters.FramesSent++;
        return seq;
    }

    /// <summary>Sends an unsequenced liveness probe carrying <paramref name="payload"/>.</summary>
    public void SendProbe(ReadOnlySpan<byte> payload)
    {
        Transmit(HaFrameType.Probe, HaFrameFlags.None, 0, payload);
        Counters.ProbesSent++;
    }

    /// <summary>
    /// Receives everything waiting, delivers in-order payloads to <paramref name="receiver"/>,
    /// acknowledges, and retransmits what is due. Returns payloads delivered.
    /// </summary>
    public int Poll(long nowMs, IHaReceiver receiver)
    {
        ArgumentNullException.ThrowIfNull(receiver);
        int delivered = 0;
        int n;
        while ((n = _link.Receive(_datagram)) > 0)
        {
            delivered += Accept(_datagram.AsSpan(0, n), nowMs, receiver);
        }

        Retransmit(nowMs);
        if (_ackDue)
        {
            _ackDue = false;
            Transmit(HaFrameType.Ack, HaFrameFlags.None, 0, default);
            Counters.AcksSent++;
        }

        return delivered;
    }

    private int Slot(ulong seq) => (int)(seq % (ulong)_options.Window);

    private void Transmit(HaFrameType type, HaFrameFlags flags, ulong seq, ReadOnlySpan<byte> plain)
    {
        (ulong ack, ulong sack) = AckState();
        var header = new HaFrameHeader(type, flags, (ushort)plain.Length, _localId, _epoch, ++_counter, seq, ack, sack, _base);
        Span<byte> d = _scratch;
        header.Write(d);
        _sealer.Seal(header.Counter, _localId, d[..HaFrameHeader.Size], plain,
            d.Slice(HaFrameHeader.Size, plain.Length), d.Slice(HaFrameHeader.Size + plain.Length, HaCrypto.TagSize));
        if (!_link.Send(d[..(HaFrameHeader.Size + plain.Length + HaCrypto.TagSize)]))
        {
            Counters.LinkRefused++;
        }
    }

    // Cumulative ack of the peer's stream and which of the next 64 frames are held.
    private (ulong Ack, ulong Sack) AckState()
    {
        ulong sack = 0;
        for (int i = 0; i < 64 && i < _options.Window; i++)
        {
            ulong seq = _delivered + 1 + (ulong)i;
            if (_recvHeld[Slot(seq)] && seq - _delivered <= (ulong)_options.Window)
            {
                sack |= 1UL << i;
            }
        }

        return (_delivered, sack);
    }

    /// <summary>Closes the channel and its link (the channel owns it).</summary>
    public void Dispose()
    {
        _sealer.Dispose();
        _opener?.Dispose();
        _link.Dispose();
    }
}
