using System.Runtime.CompilerServices;
using SnicRuntime.Hal.Net;

namespace SnicRuntime.Firmware.Flows;

public sealed unsafe partial class FlowTable<TKey>
{
    /// <summary>
    /// Inserts a flow (its aging starts at <paramref name="entry"/>.LastSeenMs). A full table is a
    /// counted <see cref="InsertResult.Full"/>, never an exception.
    /// </summary>
    public InsertResult Insert(in TKey key, in FlowEntry entry, out int position)
    {
        uint h = HashOf(key);
        uint b1 = Primary(h);
        uint b2 = Secondary(h, b1);
        int s = key.FindIn(Bucket(b1));
        if (s >= 0)
        {
            position = (int)(b1 * (uint)Slots) + s;
            return InsertResult.Exists;
        }

        if (_overflow[b1] != 0 && (s = key.FindIn(Bucket(b2))) >= 0)
        {
            position = (int)(b2 * (uint)Slots) + s;
            return InsertResult.Exists;
        }

        if (Count >= Capacity)
        {
            Counters.InsertFailedFull++;
            position = -1;
            return InsertResult.Full;
        }

        // Primary first (so most hits cost one bucket), then secondary, then make room.
        TKey empty = TKey.Empty;
        uint b = b1;
        s = empty.FindIn(Bucket(b1));
        if (s < 0)
        {
            b = b2;
            s = empty.FindIn(Bucket(b2));
            if (s < 0)
            {
                int freed = MakeRoom(b1, b2);
                if (freed < 0)
                {
                    Counters.InsertFailedFull++;
                    position = -1;
                    return InsertResult.Full;
                }

                b = (uint)(freed / Slots);
                s = freed % Slots;
            }
        }

        if (b != b1 && _overflow[b1] != byte.MaxValue)
        {
            _overflow[b1]++; // saturates: a saturated bucket always checks its secondary
        }

        position = (int)(b * (uint)Slots) + s;
        BeginWrite(b);
        *(TKey*)(Bucket(b) + s * sizeof(TKey)) = key;
        _tags[position] = TagOf(h);
        FlowEntry e = entry;
        e.Flags |= FlowFlags.Valid;
        _entries[position] = e;
        EndWrite(b);
        Count++;
        Counters.Created++;
        Schedule(position, Clock(e.LastSeenMs) + TimeoutOf(in e));
        return InsertResult.Inserted;
    }

    /// <summary>Removes the flow at <paramref name="position"/>; false if that slot is empty.</summary>
    public bool Delete(int position)
    {
        if ((uint)position >= (uint)PositionCount || !_entries[position].IsValid)
        {
            return false;
        }

        RemoveAt(position);
        Counters.Deleted++;
        return true;
    }

    public bool Delete(in TKey key)
    {
        int p = Lookup(key);
        return p >= 0 && Delete(p);
    }

    private void RemoveAt(int position)
    {
        Unlink(position);
        RemoveDetached(position);
    }

    /// <summary>
    /// Records a packet on a flow: last-seen time, counters, TCP state. A move to closing
    /// reschedules the flow on the short timeout; nothing else touches the aging wheel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Touch(int position, uint nowMs, byte tcpFlags, int bytes) => Touch(ref _entries[position], position, nowMs, tcpFlags, bytes);

    /// <summary><see cref="Touch(int, uint, byte, int)"/> for a caller that holds the entry (from <see cref="Entry"/>) already.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Touch(ref FlowEntry e, int position, uint nowMs, byte tcpFlags, int bytes)
    {
        e.LastSeenMs = nowMs;
        e.Packets++;
        e.Bytes += (uint)bytes;
        // Only TCP handshake completion, FIN and RST change state; the rest of a connection's
        // packets skip the call entirely.
        if (e.Tcp != TcpState.None && (e.Tcp == TcpState.Handshake || (tcpFlags & (byte)(TcpFlags.Fin | TcpFlags.Rst)) != 0))
        {
            TouchTcp(position, nowMs, tcpFlags);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void TouchTcp(int position, uint nowMs, byte tcpFlags)
    {
        ref FlowEntry e = ref _entries[position];
        var flags = (TcpFlags)tcpFlags;
        if ((flags & (TcpFlags.Fin | TcpFlags.Rst)) != 0)
        {
            if (e.Tcp != TcpState.Closing)
            {
                e.Tcp = TcpState.Closing;
                e.Version++;
                Unlink(position);
                Schedule(position, Clock(nowMs) + TimeoutOf(in e));
                Hooks?.StateChanged(*KeyPointer(position), in e);
            }
        }
        else if (e.Tcp == TcpState.Handshake && (flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Ack)
        {
            e.Tcp = TcpState.Established;
            e.Version++;
            Hooks?.StateChanged(*KeyPointer(position), in e);
        }
    }

    /// <summary>Observers of rare flow events (HA replication); null when nobody listens. Virtual calls happen only on those events.</summary>
    public FlowHooks<TKey>? Hooks { get; set; }

    private void BeginWrite(uint bucket) => Interlocked.Increment(ref _versions[bucket]); // odd: readers retry

    private void EndWrite(uint bucket) => Volatile.Write(ref _versions[bucket], _versions[bucket] + 1);

    /// <summary>
    /// Copies flows to <paramref name="output"/> from any thread while the owner keeps working,
    /// starting at bucket <paramref name="startBucket"/>. Each bucket is copied under its sequence
    /// number and copied again if an insert or delete raced with the copy, so every flow is whole.
    /// Returns flows copied; <paramref name="nextBucket"/> is where to continue (-1 at the end).
    /// </summary>
    public int ReadFlows(int startBucket, Span<FlowRecord<TKey>> output, out int nextBucket)
    {
        int count = 0;
        Span<FlowRecord<TKey>> local = stackalloc FlowRecord<TKey>[4];
        uint b = (uint)Math.Max(0, startBucket);
        for (; b < _bucketCount; b++)
        {
            if (output.Length - count < Slots)
            {
                nextBucket = (int)b;
                return count;
            }

            int got;
            while (true)
            {
                uint v1 = Volatile.Read(ref _versions[b]);
                if ((v1 & 1) != 0)
                {
                    Thread.SpinWait(1);
                    continue;
                }

                got = 0;
                for (int s = 0; s < Slots; s++)
                {
                    int pos = (int)(b * (uint)Slots) + s;
                    FlowEntry e = _entries[pos];
                    TKey k = *KeyPointer(pos);
                    if (e.IsValid)
                    {
                        local[got++] = new FlowRecord<TKey>(pos, k, e);
                    }
                }

                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref _versions[b]) == v1)
                {
                    break;
                }
            }

            local[..got].CopyTo(output[count..]);
            count += got;
        }

        nextBucket = -1;
        return count;
    }
}

/// <summary>A flow as a reader copied it.</summary>
public readonly record struct FlowRecord<TKey>(int Position, TKey Key, FlowEntry Entry) where TKey : unmanaged;
