using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Hal;

namespace SnicRuntime.Firmware.Workers;

/// <summary>The worker's vector: the packets one poll takes from one queue and runs through the stage together.</summary>
public static class WorkerVector
{
    /// <summary>Most packets per vector (VPP's frame size); stages size their per-vector state to it.</summary>
    public const int MaxPackets = 256;
}

/// <summary>Setup-time view of a worker (start, stop, counters); not used per packet.</summary>
public interface IWorker
{
    int Id { get; }

    WorkerCounters Counters { get; }

    /// <summary>Runs the poll loop on the calling thread until <see cref="RequestStop"/>.</summary>
    void Run();

    void RequestStop();

    /// <summary>One pass over every rx queue; returns packets received. For tests and benchmarks.</summary>
    int PollOnce();

    /// <summary>
    /// Milliseconds to sleep after a run of empty polls (0: spin and yield, as a card with dedicated
    /// cores does). Many light cards on one host (the fleet benchmark) sleep instead, as DPDK's
    /// l3fwd-power does when its queues are idle.
    /// </summary>
    int IdleSleepMs { get; set; }
}

/// <summary>
/// A run-to-completion worker on one core: for each of its rx queues, rx bursts → parse the whole
/// vector → stage → group by egress port → tx burst. It owns queue <c>i</c> of every port, so RSS
/// decides which worker sees a flow; nothing on its path is shared with other workers.
/// </summary>
/// <remarks>
/// <para>Vectors (VPP's dpdk-input): a poll takes driver bursts from a queue for as long as they
/// come back full, up to <see cref="WorkerVector.MaxPackets"/> packets, and runs them through the stage as one
/// vector. At low load a poll finds a short burst and processes it at once (no added latency);
/// under load the vector grows, and every per-vector cost (the stage's phase set-up, the wait for
/// the first cache miss of each phase, one tx burst) is shared by up to 256 packets.</para>
/// <para>Generic over struct queue and stage types: NativeAOT compiles one specialised loop per
/// driver with direct calls. All buffers are allocated here, at construction.</para>
/// </remarks>
public sealed class Worker<TRx, TTx, TStage> : IWorker
    where TRx : struct, IRxQueue
    where TTx : struct, ITxQueue
    where TStage : struct, IBurstStage
{
    // Consecutive empty passes before the worker yields its core. A card dedicates cores and
    // would spin; on a shared development host yielding keeps the generator and sink alive.
    private const int IdleSpinPasses = 256;

    private readonly TRx[] _rx;
    private readonly TTx[] _tx;
    private TStage _stage;
    private readonly PacketPool _pool;
    private readonly PacketRef[] _vector;
    private readonly ParsedPacket[] _meta;
    private readonly ushort[] _egress;
    private readonly DropReason[] _drops;
    private readonly PacketRef[][] _txStaging;
    private readonly int[] _txCount;
    private readonly int _burstSize;
    private readonly int _vectorSize;
    private volatile bool _stop;
    private readonly long _startTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
    private uint _lastTickMs = uint.MaxValue;

    /// <param name="burstSize">Packets per driver rx burst (the board's burst).</param>
    /// <param name="vectorSize">Most packets per poll and queue, in whole bursts (default <see cref="WorkerVector.MaxPackets"/>; the burst size turns vectors off).</param>
    public Worker(int id, TRx[] rx, TTx[] tx, TStage stage, PacketPool pool, int burstSize = 32, int vectorSize = WorkerVector.MaxPackets)
    {
        ArgumentNullException.ThrowIfNull(rx);
        ArgumentNullException.ThrowIfNull(tx);
        ArgumentNullException.ThrowIfNull(pool);
        if (rx.Length != tx.Length || rx.Length == 0)
        {
            throw new ArgumentException("a worker needs one rx and one tx queue per port, at least one port");
        }

        if (burstSize is < 1 or > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(burstSize), burstSize, "burst size must be 1..256");
        }

        if (vectorSize < burstSize || vectorSize > WorkerVector.MaxPackets)
        {
            throw new ArgumentOutOfRangeException(nameof(vectorSize), vectorSize, $"vector size must be {burstSize}..{WorkerVector.MaxPackets} (at least one burst)");
        }

        Id = id;
        _rx = rx;
        _tx = tx;
        _stage = stage;
        _pool = pool;
        _burstSize = burstSize;
        _vectorSize = vectorSize - vectorSize % burstSize; // whole bursts
        _vector = new PacketRef[_vectorSize];
        _meta = new ParsedPacket[_vectorSize];
        _egress = new ushort[_vectorSize];
        _drops = new DropReason[_vectorSize];
        _txStaging = new PacketRef[tx.Length][];
        for (int i = 0; i < tx.Length; i++)
        {
            _txStaging[i] = new PacketRef[_vectorSize];
        }

        _txCount = new int[tx.Length];
    }

    public int Id { get; }

    public WorkerCounters Counters { get; } = new();

    public int IdleSleepMs { get; set; }

    public void RequestStop() => _stop = true;

    public void Run()
    {
        _stop = false;
        int idle = 0;
        while (!_stop)
        {
            if (PollOnce() != 0)
            {
                idle = 0;
                continue;
            }

            Counters.IdlePolls++;
            if (++idle >= IdleSpinPasses)
            {
                idle = 0;
                if (IdleSleepMs > 0)
                {
                    Thread.Sleep(IdleSleepMs);
                }
                else
                {
                    Thread.Yield();
                }
            }
        }
    }

    /// <summary>Milliseconds since the worker was made: the clock flows and aging run on (wraps after 49 days).</summary>
    public uint NowMs => (uint)(System.Diagnostics.Stopwatch.GetElapsedTime(_startTimestamp).Ticks / TimeSpan.TicksPerMillisecond);

    public int PollOnce()
    {
        uint now = NowMs;
        if (now != _lastTickMs)
        {
            _lastTickMs = now;
            _stage.Tick(now);
        }

        int total = 0;
        for (int port = 0; port < _rx.Length; port++)
        {
            int n = Receive(ref _rx[port]);
            if (n != 0)
            {
                ProcessVector(port, n);
                total += n;
            }
        }

        // Packets the stage held (HA: first packets of new flows) that may leave now.
        int released = _stage.Release(_vector, _egress, _drops);
        if (released != 0)
        {
            Transmit(_vector.AsSpan(0, released), _egress.AsSpan(0, released), _drops.AsSpan(0, released));
            total += released;
        }

        return total;
    }

    /// <summary>Driver bursts into the vector while they come back full and there is room for another.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Receive(ref TRx rx)
    {
        int burst = _burstSize, n = 0, got;
        do
        {
            got = rx.RxBurst(_vector.AsSpan(n, burst));
            n += got;
        }
        while (got == burst && n + burst <= _vectorSize);

        return n;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void ProcessVector(int port, int n)
    {
        WorkerCounters c = Counters;
        // Two clock reads per burst (vDSO, ~20 ns each: under a nanosecond per packet at bursts
        // of 32) give busy time for cycles per packet and the burst-latency histogram.
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        c.Bursts++;
        c.RxPackets += n;
        Span<PacketRef> packets = _vector.AsSpan(0, n);
        Span<ParsedPacket> meta = _meta.AsSpan(0, n);
        Span<ushort> egress = _egress.AsSpan(0, n);
        Span<DropReason> drops = _drops.AsSpan(0, n);

        // Phase 0: ask for every packet's metadata line and first two data lines at once, so the
        // misses on freshly received buffers overlap instead of stalling the parser one by one.
        int dataOffset = sizeof(PacketHeader) + _pool.Headroom;
        for (int i = 0; i < packets.Length; i++)
        {
            byte* raw = (byte*)packets[i].Raw;
            CacheHint.Prefetch(raw);
            CacheHint.Prefetch(raw + dataOffset);
            CacheHint.Prefetch(raw + dataOffset + 64);
        }

        // Phase 1: parse the whole burst.
        long bytes = 0;
        for (int i = 0; i < packets.Length; i++)
        {
            Span<byte> data = packets[i].Data;
            bytes += data.Length;
            DropReason r = PacketParser.Parse(data, out meta[i]);
            drops[i] = r;
            egress[i] = r == DropReason.None ? Egress.Pending : Egress.Drop;
        }

        c.RxBytes += bytes;

        // Phase 2: the pipeline decides.
        _stage.Process(port, packets, meta, egress, drops);

        // Phase 3: drop or stage per egress port, then one tx burst per port.
        Transmit(packets, egress, drops);

        long held = System.Diagnostics.Stopwatch.GetTimestamp() - started;
        c.BusyTicks += held;
        c.LatencySumTicks += held * n;
        c.LatencyBuckets[BurstLatency.Bucket(WorkerCounters.TicksToNs(held))] += n;
    }

    // Stages each packet for its egress port (or frees it with its drop reason; a held packet now
    // belongs to the stage), then sends one tx burst per port.
    private void Transmit(Span<PacketRef> packets, Span<ushort> egress, Span<DropReason> drops)
    {
        // The common burst: every packet to one port. It goes to the driver as it is, without
        // the staging copy (a vectorised scan of the egress column decides).
        ushort first = egress.Length != 0 ? egress[0] : Egress.Drop;
        if (first < _tx.Length && egress.IndexOfAnyExcept(first) < 0)
        {
            Send(first, packets);
            return;
        }

        long[] dropCounts = Counters.Drops;
        for (int i = 0; i < packets.Length; i++)
        {
            ushort e = egress[i];
            if (e < _tx.Length)
            {
                _txStaging[e][_txCount[e]++] = packets[i];
                continue;
            }

            if (e == Egress.Held)
            {
                continue;
            }

            DropReason reason = e == Egress.Drop ? drops[i] : DropReason.NoEgressPort;
            dropCounts[(int)(reason == DropReason.None ? DropReason.NoEgressPort : reason)]++;
            _pool.Free(packets[i]);
        }

        for (int p = 0; p < _tx.Length; p++)
        {
            int count = _txCount[p];
            if (count == 0)
            {
                continue;
            }

            _txCount[p] = 0;
            Send(p, _txStaging[p].AsSpan(0, count));
        }
    }

    // One tx burst on port p; what the driver refuses is counted and freed.
    private void Send(int p, ReadOnlySpan<PacketRef> staged)
    {
        WorkerCounters c = Counters;
        // Sum lengths before handing over: once accepted, a packet belongs to the driver and
        // the far end may already have freed and reused it.
        long stagedBytes = 0;
        for (int i = 0; i < staged.Length; i++)
        {
            stagedBytes += staged[i].Length;
        }

        // In driver-sized bursts (a driver may take no more than its burst per call), until one
        // comes back short: the queue is full, and the rest is the driver's refusal.
        int sent = 0;
        while (sent < staged.Length)
        {
            int offer = Math.Min(_burstSize, staged.Length - sent);
            int took = _tx[p].TxBurst(staged.Slice(sent, offer));
            sent += took;
            if (took < offer)
            {
                break;
            }
        }

        if (sent < staged.Length)
        {
            for (int i = sent; i < staged.Length; i++)
            {
                stagedBytes -= staged[i].Length;
            }

            c.Drops[(int)DropReason.TxRejected] += staged.Length - sent;
            _pool.FreeBulk(staged[sent..]);
        }

        c.TxPackets += sent;
        c.TxBytes += stagedBytes;
    }
}
