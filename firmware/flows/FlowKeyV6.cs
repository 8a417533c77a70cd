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

    public static int SlotsPerBucket => 3;

    public static int BucketBytes => 128;

    public static FlowKeyV6 Empty => new(ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue, ulong.MaxValue);

    public uint Scope => (uint)(_tail >> 40);

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
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<ulong> head = Vector256.Create(_a0, _a1, _b0, _b1);
            for (int s = 0; s < 3; s++)
            {
                byte* slot = bucket + s * 40;
                if (*(ulong*)(slot + 32) == _tail && Vector256.EqualsAll(Vector256.Load((ulong*)slot), head))
                {
                    return s;
                }
            }

            return -1;
        }

        if (Vector128.IsHardwareAccelerated)
        {
            Vector128<ulong> a = Vector128.Create(_a0, _a1);
            Vector128<ulong> b = Vector128.Create(_b0, _b1);
            for (int s = 0; s < 3; s++)
            {
                byte* slot = bucket + s * 40;
                if (*(ulong*)(slot + 32) == _tail
                    && Vector128.EqualsAll(Vector128.Load((ulong*)slot), a)
                    && Vector128.EqualsAll(Vector128.Load((ulong*)(slot + 16)), b))
                {
                    return s;
                }
            }

            return -1;
        }

        for (int s = 0; s < 3; s++)
        {
            ulong* k = (ulong*)(bucket + s * 40);
            if (k[4] == _tail && k[0] == _a0 && k[1] == _a1 && k[2] == _b0 && k[3] == _b1)
            {
                return s;
            }
        }

        return -1;
    }

    public bool Equals(FlowKeyV6 other) =>
        _a0 == other._a0 && _a1 == other._a1 && _b0 == other._b0 && _b1 == other._b1 && _tail == other._tail;

    public override bool Equals(object? obj) => obj is FlowKeyV6 k && Equals(k);

    public override int GetHashCode() => (int)Hash();

    public static bool operator ==(FlowKeyV6 a, FlowKeyV6 b) => a.Equals(b);

    public static bool operator !=(FlowKeyV6 a, FlowKeyV6 b) => !a.Equals(b);
}
