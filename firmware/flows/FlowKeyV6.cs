using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SnicRuntime.Firmware.Flows;

/// <summary>
/// IPv6 flow key, 40 bytes:
/// <code>
///  0          16          32   34   36  37        40
///  | addrLo   | addrHi    |pLo |pHi |pr | scope24 |
/// </code>
/// Three keys fill a 128-byte bucket (two cache lines the adjacent-line prefetcher fetches
/// together on x86), with 8 bytes spare.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 40)]
public readonly struct FlowKeyV6 : IFlowKey<FlowKeyV6>, IEquatable<FlowKeyV6>
{
    private readonly ulong _a0;
    private readonly ulong _a1;
    private readonly ulong _b0;
    private readonly ulong _b1;
    private readonly ulong _tail;

    private FlowKeyV6(ulong a0, ulong a1, ulong b0, ulong b1, ulong tail)
    {
        _a0 = a0;
        _a1 = a1;
        _b0 = b0;
        _b1 = b1;
        _tail = tail;
    }

    /// <summary>Builds the normalised key from addresses as they appear on the wire (16 bytes each).</summary>
    public static FlowKeyV6 Create(uint scope, ReadOnlySpan<byte> src, ReadOnlySpan<byte> dst, ushort srcPort, ushort dstPort, byte protocol, out bool forward)
    {
        ulong s0 = BinaryPrimitives.ReadUInt64BigEndian(src);
        ulong s1 = BinaryPrimitives.ReadUInt64BigEndian(src[8..]);
        ulong d0 = BinaryPrimitives.ReadUInt64BigEndian(dst);
        ulong d1 = BinaryPrimitives.ReadUInt64BigEndian(dst[8..]);
        forward = s0 < d0 || (s0 == d0 && (s1 < d1 || (s1 == d1 && srcPort <= dstPort)));
        if (!forward)
        {
            (s0, d0) = (d0, s0);
            (s1, d1) = (d1, s1);
            (srcPort, dstPort) = (dstPort, srcPort);
        }

        ulong tail = srcPort | (ulong)dstPort << 16 | (ulong)protocol << 32 | (ulong)(scope & 0xFFFFFF) << 40;
        return new FlowKeyV6(s0, s1, d0, d1, tail);
    }

    /// <summary>A key from raw words (benchmarks share key bytes with peers this way).</summary>
    public static FlowKeyV6 FromRaw(ulong a0, ulong a1, ulong b0, ulong b1, ulong tail) => new(a0, a1, b0, b1, tail);

    public static int SlotsPerBucket => 3;

    public static int BucketBytes => 128;

    public static FlowKeyV6 Empty => new(ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue);

    public uint Scope => (uint)(_tail >> 40);

    public uint RssHash()
    {
        Span<byte> a = stackalloc byte[32];
        BinaryPrimitives.WriteUInt64BigEndian(a, _a0);
        BinaryPrimitives.WriteUInt64BigEndian(a[8..], _a1);
        BinaryPrimitives.WriteUInt64BigEndian(a[16..], _b0);
        BinaryPrimitives.WriteUInt64BigEndian(a[24..], _b1);
        return Parsing.FlowHash.V6(a[..16], a[16..], PortLow, PortHigh, Protocol);
    }

    /// <summary>The lower endpoint's address (keys are direction-normalised).</summary>
    public UInt128 AddressLow => new(_a0, _a1);

    public UInt128 AddressHigh => new(_b0, _b1);

    public ushort PortLow => (ushort)_tail;

    public ushort PortHigh => (ushort)(_tail >> 16);

    public byte Protocol => (byte)(_tail >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Hash()
    {
        uint h = BitOperations.Crc32C(0x9747B28Cu, _a0);
        h = BitOperations.Crc32C(h, _a1);
        h = BitOperations.Crc32C(h, _b0);
        h = BitOperations.Crc32C(h, _b1);
        return BitOperations.Crc32C(h, _tail);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe int FindIn(byte* bucket)
    {
        // One bit per slot, computed without branching on where the key is (see FlowKeyV4).
        uint found;
        if (Vector256.IsHardwareAccelerated)
        {
            // The key's first 32 bytes are the four address words: one load, not four inserts.
            Vector256<ulong> head = Vector256.LoadUnsafe(ref Unsafe.AsRef(in _a0));
            found = Match256(bucket, head, 0) | Match256(bucket, head, 1) << 1 | Match256(bucket, head, 2) << 2;
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<ulong> a = Vector128.LoadUnsafe(ref Unsafe.AsRef(in _a0));
            Vector128<ulong> b = Vector128.LoadUnsafe(ref Unsafe.AsRef(in _b0));
            found = Match128(bucket, a, b, 0) | Match128(bucket, a, b, 1) << 1 | Match128(bucket, a, b, 2) << 2;
        }
        else
        {
            found = 0;
            for (int s = 0; s < 3; s++)
            {
                ulong* k = (ulong*)(bucket + s * 40);
                bool eq = k[4] == _tail && k[0] == _a0 && k[1] == _a1 && k[2] == _b0 && k[3] == _b1;
                found |= (eq ? 1u : 0u) << s;
            }
        }

        return found == 0 ? -1 : BitOperations.TrailingZeroCount(found);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe uint Match256(byte* bucket, Vector256<ulong> head, int slot)
    {
        byte* p = bucket + slot * 40;
        uint lanes = Vector256.Equals(Vector256.Load((ulong*)p), head).ExtractMostSignificantBits();
        return (lanes == 0xF ? 1u : 0u) & (*(ulong*)(p + 32) == _tail ? 1u : 0u);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe uint Match128(byte* bucket, Vector128<ulong> a, Vector128<ulong> b, int slot)
    {
        byte* p = bucket + slot * 40;
        uint lanes = Vector128.Equals(Vector128.Load((ulong*)p), a).ExtractMostSignificantBits()
            | Vector128.Equals(Vector128.Load((ulong*)(p + 16)), b).ExtractMostSignificantBits() << 2;
        return (lanes == 0xF ? 1u : 0u) & (*(ulong*)(p + 32) == _tail ? 1u : 0u);
    }

    public bool Equals(FlowKeyV6 other) =>
        _a0 == other._a0 && _a1 == other._a1 && _b0 == other._b0 && _b1 == other._b1 && _tail == other._tail;

    public override bool Equals(object? obj) => obj is FlowKeyV6 k && Equals(k);

    public override int GetHashCode() => (int)Hash();

    public static bool operator ==(FlowKeyV6 a, FlowKeyV6 b) => a.Equals(b);

    public static bool operator !=(FlowKeyV6 a, FlowKeyV6 b) => !a.Equals(b);
}
