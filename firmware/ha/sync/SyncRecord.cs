using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SnicRuntime.Firmware.Flows;

namespace SnicRuntime.Firmware.Ha.Sync;

public enum SyncKind : byte
{
    None = 0,
    UpsertV4 = 1,
    UpsertV6 = 2,
    DeleteV4 = 3,
    DeleteV6 = 4,
    /// <summary>A worker finished walking its tables for a bulk sync (not sent; the sync engine counts them).</summary>
    BulkWalked = 5,
    /// <summary>
    /// Every flow of the active has been sent to the standby run named in the record (its channel
    /// epoch), so a marker meant for an earlier run of the standby is not mistaken for its own.
    /// </summary>
    BulkEnd = 6,
    /// <summary>
    /// An ENI range sync starts (SPEC §3): the standby forgets that ENI's flows before it installs
    /// what follows, so what it holds afterwards is exactly the active's (stale flows included in
    /// what is forgotten). Handed to every standby worker, in order with the records around it.
    /// </summary>
    RangeBegin = 7,
    /// <summary>Every flow of the ENI named in the record has been sent for the range request it names.</summary>
    RangeEnd = 8,
}

/// <summary>The flow key of a sync record: up to 40 bytes (IPv6), only the first 16 used for IPv4.</summary>
[InlineArray(40)]
public struct SyncKeyBytes
{
    private byte _first;
}

/// <summary>
/// One flow change as a worker hands it to the sync thread, 64 bytes: the flow's key and the
/// parts of its entry the standby needs (action, version, generation, TCP state, flags). Packet
/// and byte counters are not replicated; the standby starts its own.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct SyncRecord
{
    public SyncKind Kind;
    public TcpState Tcp;
    public FlowFlags Flags;
    public byte Worker;
    public ushort Generation;
    public ushort Reserved;
    public uint Version;
    public uint Action;
    /// <summary>The flow's symmetric hash: which standby worker owns it.</summary>
    public uint Hash;
    public SyncKeyBytes Key;

    public readonly bool IsV6 => Kind is SyncKind.UpsertV6 or SyncKind.DeleteV6;

    public static SyncRecord Upsert<TKey>(in TKey key, in FlowEntry e, uint hash) where TKey : unmanaged, IFlowKey<TKey>
    {
        var r = new SyncRecord
        {
            Kind = Unsafe.SizeOf<TKey>() == 16 ? SyncKind.UpsertV4 : SyncKind.UpsertV6,
            Tcp = e.Tcp,
            Flags = e.Flags & ~(FlowFlags.Valid | FlowFlags.SyncPending),
            Generation = e.Generation,
            Version = e.Version,
            Action = e.Action,
            Hash = hash,
        };
        MemoryMarshal.Write(r.Key, in key);
        return r;
    }

    public static SyncRecord Delete<TKey>(in TKey key, uint version, uint hash) where TKey : unmanaged, IFlowKey<TKey>
    {
        var r = new SyncRecord { Kind = Unsafe.SizeOf<TKey>() == 16 ? SyncKind.DeleteV4 : SyncKind.DeleteV6, Version = version, Hash = hash };
        MemoryMarshal.Write(r.Key, in key);
        return r;
    }

    public readonly TKey KeyAs<TKey>() where TKey : unmanaged => MemoryMarshal.Read<TKey>(Key);

    /// <summary>A bulk-end marker for the standby run <paramref name="epoch"/> (kept in the key bytes).</summary>
    public static SyncRecord BulkEndFor(ulong epoch)
    {
        var r = new SyncRecord { Kind = SyncKind.BulkEnd };
        MemoryMarshal.Write(r.Key, in epoch);
        return r;
    }

    public readonly ulong BulkEpoch => MemoryMarshal.Read<ulong>(Key);

    /// <summary>A range marker (<see cref="SyncKind.RangeBegin"/> or <see cref="SyncKind.RangeEnd"/>) for ENI <paramref name="eni"/> (its plan index) and request <paramref name="request"/>.</summary>
    public static SyncRecord RangeMark(SyncKind kind, int eni, uint request)
    {
        var r = new SyncRecord { Kind = kind, Version = request, Action = (uint)eni };
        return r;
    }

    /// <summary>The ENI (plan index) of a range marker.</summary>
    public readonly int RangeEni => (int)Action;

    /// <summary>The request number of a range marker.</summary>
    public readonly uint RangeRequest => Version;

    /// <summary>The largest ENI index a range marker may carry (what a flow key's scope field holds).</summary>
    public const int MaxRangeEni = (int)FlowKeyV4.MaxScope;

    private static int KeyLength(SyncKind k) => k is SyncKind.UpsertV6 or SyncKind.DeleteV6 ? 40 : 16;

    /// <summary>Bytes <see cref="Encode"/> writes for this record.</summary>
    public readonly int WireSize => Kind switch
    {
        SyncKind.UpsertV4 or SyncKind.UpsertV6 => 17 + KeyLength(Kind),
        SyncKind.DeleteV4 or SyncKind.DeleteV6 => 9 + KeyLength(Kind),
        SyncKind.BulkEnd or SyncKind.RangeBegin or SyncKind.RangeEnd => 9,
        _ => 1,
    };

    /// <summary>The record on the wire (little-endian, kind first); returns bytes written.</summary>
    public readonly int Encode(Span<byte> to)
    {
        to[0] = (byte)Kind;
        switch (Kind)
        {
            case SyncKind.UpsertV4 or SyncKind.UpsertV6:
                to[1] = (byte)Tcp;
                to[2] = (byte)Flags;
                BinaryPrimitives.WriteUInt16LittleEndian(to[3..], Generation);
                BinaryPrimitives.WriteUInt32LittleEndian(to[5..], Version);
                BinaryPrimitives.WriteUInt32LittleEndian(to[9..], Action);
                BinaryPrimitives.WriteUInt32LittleEndian(to[13..], Hash);
                ((ReadOnlySpan<byte>)Key)[..KeyLength(Kind)].CopyTo(to[17..]);
                return 17 + KeyLength(Kind);
            case SyncKind.DeleteV4 or SyncKind.DeleteV6:
                BinaryPrimitives.WriteUInt32LittleEndian(to[1..], Version);
                BinaryPrimitives.WriteUInt32LittleEndian(to[5..], Hash);
                ((ReadOnlySpan<byte>)Key)[..KeyLength(Kind)].CopyTo(to[9..]);
                return 9 + KeyLength(Kind);
            case SyncKind.BulkEnd:
                BinaryPrimitives.WriteUInt64LittleEndian(to[1..], BulkEpoch);
                return 9;
            case SyncKind.RangeBegin or SyncKind.RangeEnd:
                BinaryPrimitives.WriteUInt32LittleEndian(to[1..], (uint)RangeEni);
                BinaryPrimitives.WriteUInt32LittleEndian(to[5..], RangeRequest);
                return 9;
            default:
                return 1;
        }
    }

    /// <summary>Reads one record; 0 when <paramref name="from"/> does not start with a whole, valid record.</summary>
    public static int Decode(ReadOnlySpan<byte> from, out SyncRecord r)
    {
        r = default;
        if (from.IsEmpty)
        {
            return 0;
        }

        var kind = (SyncKind)from[0];
        int key = KeyLength(kind);
        switch (kind)
        {
            case SyncKind.UpsertV4 or SyncKind.UpsertV6:
                if (from.Length < 17 + key || from[1] > (byte)TcpState.Closing || (from[2] & ~(byte)(FlowFlags.OriginatorIsLow | FlowFlags.Icmp | FlowFlags.Udp)) != 0)
                {
                    return 0;
                }

                r.Kind = kind;
                r.Tcp = (TcpState)from[1];
                r.Flags = (FlowFlags)from[2];
                r.Generation = BinaryPrimitives.ReadUInt16LittleEndian(from[3..]);
                r.Version = BinaryPrimitives.ReadUInt32LittleEndian(from[5..]);
                r.Action = BinaryPrimitives.ReadUInt32LittleEndian(from[9..]);
                r.Hash = BinaryPrimitives.ReadUInt32LittleEndian(from[13..]);
                from.Slice(17, key).CopyTo(r.Key);
                return 17 + key;
            case SyncKind.DeleteV4 or SyncKind.DeleteV6:
                if (from.Length < 9 + key)
                {
                    return 0;
                }

                r.Kind = kind;
                r.Version = BinaryPrimitives.ReadUInt32LittleEndian(from[1..]);
                r.Hash = BinaryPrimitives.ReadUInt32LittleEndian(from[5..]);
                from.Slice(9, key).CopyTo(r.Key);
                return 9 + key;
            case SyncKind.BulkEnd:
                if (from.Length < 9)
                {
                    return 0;
                }

                r = BulkEndFor(BinaryPrimitives.ReadUInt64LittleEndian(from[1..]));
                return 9;
            case SyncKind.RangeBegin or SyncKind.RangeEnd:
                uint eni = from.Length < 9 ? uint.MaxValue : BinaryPrimitives.ReadUInt32LittleEndian(from[1..]);
                if (eni > MaxRangeEni)
                {
                    return 0;
                }

                r = RangeMark(kind, (int)eni, BinaryPrimitives.ReadUInt32LittleEndian(from[5..]));
                return 9;
            default:
                return 0;
        }
    }
}
