using SnicRuntime.Firmware.Ha.Channel;

namespace SnicRuntime.Firmware.Ha.Sync;

/// <summary>
/// The card's flow-sync engine, on the HA sync thread: packs the workers' outboxes into channel
/// frames (inline changes and bulk walks in one ordered stream per worker), tells each worker how
/// far the peer has acknowledged its records (which releases held first packets), and on the
/// standby side hands received records to the worker that owns each flow (by its RSS hash).
/// </summary>
/// <remarks>
/// Deterministic given the channel's clock: <see cref="Poll"/> does one round. Nothing here runs
/// on a worker; a worker only enqueues and dequeues fixed-size records.
/// </remarks>
public sealed class FlowSync : IHaReceiver
{
    private const int MaxRecordBytes = 57; // an IPv6 upsert

    private readonly HaChannel _channel;
    private readonly WorkerSync[] _workers;
    private readonly Func<uint, int> _workerOfHash;
    private readonly long[] _consumed;
    private readonly long[][] _marks; // per in-flight frame: each worker's consumed count when it was sent
    private readonly List<SyncRecord>[] _overflow;
    private readonly byte[] _payload;
    private ulong _ackProcessed;
    private int _cursor;

    // Bulk sync (active side): the request number and which workers have walked for it.
    private int _bulkRequest;
    private bool[] _walked;
    private bool _bulkEndPending;
    private ulong _bulkFor;
    // An ENI range sync rides the bulk machinery with a filter: its ENI (-1 for a bulk) and
    // whether its begin marker still has to go out ahead of the walked flows.
    private int _rangeEni = -1;
    private bool _rangeBeginPending;

    public FlowSync(HaChannel channel, IReadOnlyList<WorkerSync> workers, Func<uint, int> workerOfHash, int window = 512)
    {
        _channel = channel ?? throw new ArgumentNullException(nameof(channel));
        ArgumentNullException.ThrowIfNull(workers);
        _workers = [.. workers];
        _workerOfHash = workerOfHash ?? throw new ArgumentNullException(nameof(workerOfHash));
        _consumed = new long[_workers.Length];
        for (int w = 0; w < _workers.Length; w++)
        {
            // Workers number their records for the process's lifetime; a later pairing continues the count.
            _consumed[w] = Volatile.Read(ref _workers[w].Produced) - _workers[w].Outbox.Count;
        }

        _marks = new long[window][];
        for (int i = 0; i < window; i++)
        {
            _marks[i] = new long[_workers.Length];
        }

        _overflow = new List<SyncRecord>[_workers.Length];
        for (int i = 0; i < _overflow.Length; i++)
        {
            _overflow[i] = [];
        }

        _walked = new bool[_workers.Length];
        _payload = new byte[channel.MaxPayload];
    }

    public HaChannel Channel => _channel;

    /// <summary>The active's end-of-bulk marker arrived, naming the standby run it completes (compare with our channel's epoch).</summary>
    public event Action<ulong>? BulkReceived;

    /// <summary>Standby side: the active finished an ENI range sync (the ENI's plan index, the request number).</summary>
    public event Action<int, uint>? RangeReceived;

    /// <summary>The peer restarted (a new run): whatever it held is gone.</summary>
    public event Action? PeerRestarted;

    /// <summary>A probe payload from the peer (the HA node reads scope states from it).</summary>
    public event ProbeHandler? ProbeReceived;

    public delegate void ProbeHandler(ReadOnlySpan<byte> payload);

    public long RecordsSent { get; private set; }

    public long RecordsReceived { get; private set; }

    /// <summary>Authenticated payloads with a record this version cannot read (version skew): counted, rest of the payload skipped.</summary>
    public long BadRecords { get; private set; }

    /// <summary>True while a requested bulk sync has not been fully sent.</summary>
    public bool BulkInProgress => _bulkRequest != 0 && (_bulkEndPending || Array.IndexOf(_walked, false) >= 0);

    /// <summary>Records produced by workers and not yet acknowledged by the peer (the sync lag, in flow changes).</summary>
    public long Lag
    {
        get
        {
            long lag = 0;
            foreach (WorkerSync w in _workers)
            {
                lag += Volatile.Read(ref w.Produced) - Volatile.Read(ref w.Acked);
            }

            return lag;
        }
    }

    /// <summary>Starts a bulk sync: every worker walks its tables into its outbox; when all have, the peer is told.</summary>
    public void RequestBulk() => StartWalk(-1);

    /// <summary>
    /// Starts an ENI range sync (SPEC §3): only the flows of ENI <paramref name="eni"/> (its plan
    /// index) are walked and sent, after a marker that makes the standby forget what it held of
    /// that ENI; an end marker follows them. Returns the request number the end marker carries.
    /// A range requested while another walk is under way replaces it, as a bulk does.
    /// </summary>
    public uint RequestRange(int eni)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(eni);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(eni, SyncRecord.MaxRangeEni);
        StartWalk(eni);
        return (uint)_bulkRequest;
    }

    /// <summary>Range syncs whose end marker went out (active side).</summary>
    public long RangesSent { get; private set; }

    /// <summary>Range syncs whose end marker arrived (standby side).</summary>
    public long RangesReceived { get; private set; }

    private void StartWalk(int eni)
    {
        _bulkRequest++;
        _rangeEni = eni;
        _rangeBeginPending = eni >= 0;
        _bulkFor = _channel.PeerEpoch; // the standby run this bulk completes
        Array.Clear(_walked);
        _bulkEndPending = false;
        foreach (WorkerSync w in _workers)
        {
            w.BulkEni = eni;
            w.BulkRequest = _bulkRequest; // volatile: publishes BulkEni with it
        }
    }

    /// <summary>
    /// The peer is gone and this card forwards alone: nothing will acknowledge what is queued, so
    /// drop it (a returning peer gets everything by bulk sync) and count it all as acknowledged,
    /// which lets held first packets go.
    /// </summary>
    public void Abandon()
    {
        for (int w = 0; w < _workers.Length; w++)
        {
            while (_workers[w].Outbox.TryDequeue(out _))
            {
                _consumed[w]++;
            }

            if (Volatile.Read(ref _workers[w].Acked) < _consumed[w])
            {
                Volatile.Write(ref _workers[w].Acked, _consumed[w]);
            }
        }
    }

    /// <summary>One round: hand over received records, send what the workers produced, receive, propagate acks.</summary>
    public int Poll(long nowMs)
    {
        DrainOverflow();
        int sent = Pack(nowMs);
        _channel.Poll(nowMs, this);
        PropagateAcks();
        return sent;
    }

    private int Pack(long nowMs)
    {
        int frames = 0;
        while (_channel.CanSend)
        {
            int length = 0;
            int idle = 0;
            if (_rangeBeginPending)
            {
                // Ahead of every walked record: the workers walk as soon as they see the request,
                // but nothing leaves their outboxes before this frame.
                length += SyncRecord.RangeMark(SyncKind.RangeBegin, _rangeEni, (uint)_bulkRequest).Encode(_payload);
                _rangeBeginPending = false;
            }

            while (length + MaxRecordBytes <= _payload.Length && idle < _workers.Length)
            {
                int w = _cursor;
                _cursor = (_cursor + 1) % _workers.Length;
                WorkerSync worker = _workers[w];
                int taken = 0;
                while (taken < 64 && length + MaxRecordBytes <= _payload.Length && worker.Outbox.TryDequeue(out SyncRecord r))
                {
                    _consumed[w]++;
                    taken++;
                    if (r.Kind == SyncKind.BulkWalked)
                    {
                        if (_bulkRequest != 0 && !_walked[w])
                        {
                            _walked[w] = true;
                            _bulkEndPending = Array.IndexOf(_walked, false) < 0;
                        }

                        continue;
                    }

                    length += r.Encode(_payload.AsSpan(length));
                    RecordsSent++;
                }

                idle = taken == 0 ? idle + 1 : 0;
            }

            // Every worker's walk is in this frame or an earlier one: the end marker follows them.
            if (_bulkEndPending && length + MaxRecordBytes <= _payload.Length)
            {
                SyncRecord end = _rangeEni >= 0 ? SyncRecord.RangeMark(SyncKind.RangeEnd, _rangeEni, (uint)_bulkRequest) : SyncRecord.BulkEndFor(_bulkFor);
                length += end.Encode(_payload.AsSpan(length));
                RangesSent += _rangeEni >= 0 ? 1 : 0;
                _bulkEndPending = false;
            }

            if (length == 0)
            {
                // Nothing to send; still account consumed BulkWalked markers.
                MarkAllConsumedAsAcked();
                break;
            }

            ulong seq = _channel.Send(_payload.AsSpan(0, length), nowMs);
            Array.Copy(_consumed, _marks[seq % (ulong)_marks.Length], _consumed.Length);
            frames++;
        }

        return frames;
    }

    // Records that never needed a frame (walk markers) are "held by the peer" as soon as
    // everything sent before them is.
    private void MarkAllConsumedAsAcked()
    {
        if (_channel.InFlight != 0)
        {
            return;
        }

        for (int w = 0; w < _workers.Length; w++)
        {
            if (Volatile.Read(ref _workers[w].Acked) < _consumed[w])
            {
                Volatile.Write(ref _workers[w].Acked, _consumed[w]);
            }
        }
    }

    private void PropagateAcks()
    {
        ulong acked = _channel.Acked;
        for (ulong seq = _ackProcessed + 1; seq <= acked; seq++)
        {
            long[] mark = _marks[seq % (ulong)_marks.Length];
            for (int w = 0; w < _workers.Length; w++)
            {
                if (mark[w] > Volatile.Read(ref _workers[w].Acked))
                {
                    Volatile.Write(ref _workers[w].Acked, mark[w]);
                }
            }
        }

        _ackProcessed = acked;
        MarkAllConsumedAsAcked();
    }

    private void DrainOverflow()
    {
        for (int w = 0; w < _overflow.Length; w++)
        {
            List<SyncRecord> pending = _overflow[w];
            int k = 0;
            while (k < pending.Count && _workers[w].Inbox.TryEnqueue(pending[k]))
            {
                k++;
            }

            pending.RemoveRange(0, k);
        }
    }

    void IHaReceiver.OnPayload(ReadOnlySpan<byte> payload)
    {
        while (!payload.IsEmpty)
        {
            int n = SyncRecord.Decode(payload, out SyncRecord r);
            if (n == 0)
            {
                BadRecords++;
                return;
            }

            payload = payload[n..];
            RecordsReceived++;
            if (r.Kind == SyncKind.BulkEnd)
            {
                BulkReceived?.Invoke(r.BulkEpoch);
                continue;
            }

            if (r.Kind == SyncKind.RangeEnd)
            {
                RangesReceived++;
                RangeReceived?.Invoke(r.RangeEni, r.RangeRequest);
                continue;
            }

            if (r.Kind == SyncKind.RangeBegin)
            {
                // Every worker may hold flows of the ENI: each forgets them before it installs
                // anything that came after the marker.
                for (int w = 0; w < _workers.Length; w++)
                {
                    Deliver(w, in r);
                }

                continue;
            }

            Deliver(_workerOfHash(r.Hash), in r);
        }
    }

    // The inbox is bounded; what does not fit waits here (in order) rather than being lost.
    private void Deliver(int w, in SyncRecord r)
    {
        if (_overflow[w].Count != 0 || !_workers[w].Inbox.TryEnqueue(in r))
        {
            _overflow[w].Add(r);
        }
    }

    void IHaReceiver.OnPeerRestarted() => PeerRestarted?.Invoke();

    void IHaReceiver.OnProbe(ReadOnlySpan<byte> payload) => ProbeReceived?.Invoke(payload);
}
