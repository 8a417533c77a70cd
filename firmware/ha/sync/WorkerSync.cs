using SnicRuntime.Firmware.Flows;
using SnicRuntime.Hal;

namespace SnicRuntime.Firmware.Ha.Sync;

/// <summary>How the pipeline treats an ENI's traffic, from its HA scope's state.</summary>
public enum HaMode : byte
{
    /// <summary>Not paired, or forwarding alone (standalone): decide and forward, replicate nothing.</summary>
    Alone = 0,
    /// <summary>Active with a peer: replicate every flow change; hold a new flow's packets until the peer acknowledges it.</summary>
    Replicate = 1,
    /// <summary>Standby side: install what the active sends; this card does not decide the scope's flows (it redirects them to the active).</summary>
    Standby = 2,
    /// <summary>
    /// Handing the scope over (switching to standby): existing flows still forward here and their
    /// changes replicate; new flows go to the peer, so the outbox drains and the hand-over can finish.
    /// </summary>
    Draining = 3,
}

/// <summary>
/// What a worker shares with the HA sync thread: the outbox of flow changes it produced (and how
/// many the peer has acknowledged), the inbox of flows the active sent for it to install, and a
/// bulk-walk request. Each queue has one writer and one reader; the counters are written by
/// their owner only.
/// </summary>
public sealed class WorkerSync(int id, int outboxCapacity = 1 << 16, int inboxCapacity = 1 << 16)
{
    public int Id { get; } = id;

    public SpscRing<SyncRecord> Outbox { get; } = new(outboxCapacity);

    public SpscRing<SyncRecord> Inbox { get; } = new(inboxCapacity);

    /// <summary>Records the worker put in the outbox (its record numbers run 1..Produced). Worker-written.</summary>
    public long Produced;

    /// <summary>Records the peer holds: every record numbered ≤ this. Written by the sync thread.</summary>
    public long Acked;

    /// <summary>Set by the sync thread to ask for a walk of the tables (bulk sync); the worker answers with a BulkWalked record.</summary>
    public volatile int BulkRequest;

    /// <summary>The request the worker last finished (worker-written).</summary>
    public int BulkDone;

    /// <summary>
    /// The ENI (plan index) the requested walk is limited to, or -1 for every replicated flow (a
    /// bulk sync). Written before <see cref="BulkRequest"/>, whose volatile write publishes it.
    /// </summary>
    public int BulkEni = -1;

    /// <summary>Flows forgotten at the start of ENI range syncs (standby side, worker-written).</summary>
    public long Forgotten;

    /// <summary>
    /// Raised by the HA node (after publishing the modes) when a scope stops being decided here:
    /// the worker lets go of the packets it holds for that scope's ENIs.
    /// </summary>
    public volatile int FenceRequest;

    /// <summary>The fence request the worker last answered (worker-written).</summary>
    public int FenceDone;

    public long HoldFull;
    /// <summary>Held packets let go (dropped) because their scope stopped being decided here.</summary>
    public long Fenced;
    public long OutboxFull;
    public long Released;
    public long Installed;
    public long InstallStale;
    public long InstallFull;
    public long Deleted;

    /// <summary>Appends a record; its number, or 0 when the outbox is full (the caller counts and copes).</summary>
    public long Offer(in SyncRecord r)
    {
        if (!Outbox.TryEnqueue(in r))
        {
            OutboxFull++;
            return 0;
        }

        return ++Produced;
    }
}

/// <summary>
/// Packets a worker holds until the peer acknowledges the flow change they wait for (FIFO by
/// record number, so a flow's packets leave in their order). Bounded; full is a counted drop.
/// </summary>
public sealed class HoldQueue(int capacity = 4096)
{
    private readonly PacketRef[] _packets = new PacketRef[capacity];
    private readonly ushort[] _egress = new ushort[capacity];
    private readonly long[] _record = new long[capacity];
    private readonly SyncRecord[] _first = new SyncRecord[capacity];
    private readonly short[] _eni = new short[capacity];
    private readonly bool[] _forPeer = new bool[capacity];
    private long _head;
    private long _tail;

    public int Count => (int)(_tail - _head);

    public int Capacity => capacity;

    /// <param name="eni">The ENI the packet belongs to (a fence lets go of a scope's packets).</param>
    /// <param name="forPeer">The standby peer redirected it here: decided here whatever this card's mode, so a fence keeps it.</param>
    /// <param name="first">The flow's create record when this is its first packet (its pending mark is cleared on release).</param>
    public bool TryHold(PacketRef packet, ushort egress, long record, int eni, bool forPeer, in SyncRecord first)
    {
        if (_tail - _head >= capacity)
        {
            return false;
        }

        int i = (int)(_tail % capacity);
        _packets[i] = packet;
        _egress[i] = egress;
        _record[i] = record;
        _first[i] = first;
        _eni[i] = (short)eni;
        _forPeer[i] = forPeer;
        _tail++;
        return true;
    }

    /// <summary>
    /// Takes out every held packet whose ENI is now <see cref="HaMode.Standby"/> in
    /// <paramref name="modes"/> (its scope is no longer decided here) and that was decided here
    /// for this card's own sake (not redirected by the peer), keeping the rest in order.
    /// The taken packets go to <paramref name="taken"/> (as many as fit: fewer than its length
    /// means none is left), each with its flow's create record in <paramref name="firsts"/> (default for a
    /// packet that was not a flow's first). Returns how many were taken.
    /// </summary>
    public int TakeFenced(byte[] modes, Span<PacketRef> taken, Span<SyncRecord> firsts)
    {
        int n = 0;
        long write = _head;
        for (long read = _head; read < _tail; read++)
        {
            int r = (int)(read % capacity);
            if (n < taken.Length && Fenced(modes, r))
            {
                firsts[n] = _first[r];
                taken[n++] = _packets[r];
                continue;
            }

            if (write != read)
            {
                int w = (int)(write % capacity);
                _packets[w] = _packets[r];
                _egress[w] = _egress[r];
                _record[w] = _record[r];
                _first[w] = _first[r];
                _eni[w] = _eni[r];
                _forPeer[w] = _forPeer[r];
            }

            write++;
        }

        _tail = write;
        return n;
    }

    private bool Fenced(byte[] modes, int slot) => !_forPeer[slot] && HaModeMap.Of(modes, _eni[slot]) == HaMode.Standby;

    /// <summary>Takes the oldest held packet if its record is acknowledged (≤ <paramref name="acked"/>).</summary>
    public bool TryRelease(long acked, out PacketRef packet, out ushort egress, out SyncRecord first)
    {
        if (_head == _tail || _record[_head % capacity] > acked)
        {
            packet = default;
            egress = 0;
            first = default;
            return false;
        }

        int i = (int)(_head % capacity);
        packet = _packets[i];
        egress = _egress[i];
        first = _first[i];
        _head++;
        return true;
    }
}
