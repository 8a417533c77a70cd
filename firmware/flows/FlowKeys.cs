using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace SnicRuntime.Firmware.Flows;

/// <summary>
/// A flow key type: fixed size, stored inline in the table's bucket lines, compared with SIMD.
/// Keys are direction-normalised by their constructors (the lower endpoint first), so one entry
/// serves both directions of a flow.
/// </summary>
public interface IFlowKey<TKey> where TKey : unmanaged, IFlowKey<TKey>
{
    /// <summary>Keys per bucket; a bucket is <see cref="BucketBytes"/> of aligned memory.</summary>
    static abstract int SlotsPerBucket { get; }

    static abstract int BucketBytes { get; }

    /// <summary>
    /// The pattern of an unused slot: every byte 0xFF (the table fills free buckets that way). No
    /// real key can equal it: its scope id would be 0xFFFFFF, which is reserved.
    /// </summary>
    static abstract TKey Empty { get; }

    uint Hash();

    /// <summary>The key's scope (the ENI index in the policy pipeline).</summary>
    uint Scope { get; }

    /// <summary>The symmetric 5-tuple hash the NIC's RSS computes for this flow's packets (<see cref="Parsing.FlowHash"/>): which worker owns it.</summary>
    uint RssHash();

    /// <summary>Index of the slot in the bucket at <paramref name="bucket"/> that holds this key, or -1.</summary>
    unsafe int FindIn(byte* bucket);
}

/// <summary>
/// IPv4 flow key, 16 bytes:
/// <code>
///  0      4      8    10   12  13        16
///  | ipLo | ipHi |pLo |pHi |pr | scope24 |
/// </code>
/// (ipLo, pLo) is the lower endpoint of the two; scope is the ENI/VNET id (24 bits; 0xFFFFFF is
/// reserved for empty slots).
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
public readonly struct FlowKeyV4 : IFlowKey<FlowKeyV4>, IEquatable<FlowKeyV4>
{
    public const uint MaxScope = 0xFFFFFE;
    private readonly ulong _lo;
    private readonly ulong _hi;

    private FlowKeyV4(ulong lo, ulong hi)
    {
        _lo = lo;
        _hi = hi;
    }

    /// <summary>Builds the normalised key; <paramref name="forward"/> is true when src is the lower endpoint.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FlowKeyV4 Create(uint scope, uint src, uint dst, ushort srcPort, ushort dstPort, byte protocol, out bool forward)
    {
        // Each endpoint as one (address << 16 | port) word; the lower goes first. Selected, not
        // swapped under a branch: which side is lower is a coin toss per packet on real traffic.
        ulong a = (ulong)src << 16 | srcPort;
        ulong b = (ulong)dst << 16 | dstPort;
        forward = a <= b;
        ulong low = forward ? a : b;
        ulong high = forward ? b : a;

        // Little-endian packing; the byte layout in the doc comment holds on LE machines, and the
        // table only ever compares whole keys, so BE machines stay correct too.
        ulong lo = (low >> 16) | (high >> 16) << 32;
        ulong hi = (low & 0xFFFF) | (high & 0xFFFF) << 16 | (ulong)protocol << 32 | (ulong)(scope & 0xFFFFFF) << 40;
        return new FlowKeyV4(lo, hi);
    }

    /// <summary>A key from raw words (benchmarks share key bytes with peers this way).</summary>
    public static FlowKeyV4 FromRaw(ulong lo, ulong hi) => new(lo, hi);

    public static int SlotsPerBucket => 4;

    public static int BucketBytes => 64;

    public static FlowKeyV4 Empty => new(ulong.MaxValue, ulong.MaxValue);

    public uint Scope => (uint)(_hi >> 40);

    public byte Protocol => (byte)(_hi >> 32);

    public uint RssHash() => Parsing.FlowHash.V4(AddressLow, AddressHigh, PortLow, PortHigh, Protocol);

    public uint AddressLow => (uint)_lo;

    public uint AddressHigh => (uint)(_lo >> 32);

    public ushort PortLow => (ushort)_hi;

    public ushort PortHigh => (ushort)(_hi >> 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Hash() => BitOperations.Crc32C(BitOperations.Crc32C(0x9747B28Cu, _lo), _hi);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe int FindIn(byte* bucket)
    {
        // Compare 64-bit lanes: a slot (two lanes) matches when both its lanes are equal. The
        // per-lane mask is folded to one bit per slot and the slot found with a trailing-zero
        // count, so where the key sits costs no branch (a branch per slot mispredicts on random
        // positions and cost more than the compares).
        uint lanes;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<ulong> key = Vector256.Create(Vector128.LoadUnsafe(ref Unsafe.AsRef(in _lo)));
            lanes = Vector256.Equals(Vector256.Load((ulong*)bucket), key).ExtractMostSignificantBits()
                | Vector256.Equals(Vector256.Load((ulong*)(bucket + 32)), key).ExtractMostSignificantBits() << 4;
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            Vector128<ulong> key = Vector128.LoadUnsafe(ref Unsafe.AsRef(in _lo));
            lanes = Vector128.Equals(Vector128.Load((ulong*)bucket), key).ExtractMostSignificantBits()
                | Vector128.Equals(Vector128.Load((ulong*)(bucket + 16)), key).ExtractMostSignificantBits() << 2
                | Vector128.Equals(Vector128.Load((ulong*)(bucket + 32)), key).ExtractMostSignificantBits() << 4
                | Vector128.Equals(Vector128.Load((ulong*)(bucket + 48)), key).ExtractMostSignificantBits() << 6;
        }
        else
        {
            // Scalar fallback: the same lane mask, built from 64-bit compares.
            ulong* w = (ulong*)bucket;
            lanes = 0;
            for (int i = 0; i < 8; i++)
            {
                lanes |= (w[i] == ((i & 1) == 0 ? _lo : _hi) ? 1u : 0u) << i;
            }
        }

        uint slots = lanes & (lanes >> 1) & 0x55;
        return slots == 0 ? -1 : BitOperations.TrailingZeroCount(slots) >> 1;
    }

    public bool Equals(FlowKeyV4 other) => _lo == other._lo && _hi == other._hi;

    public override bool Equals(object? obj) => obj is FlowKeyV4 k && Equals(k);

    public override int GetHashCode() => (int)Hash();

    public static bool operator ==(FlowKeyV4 a, FlowKeyV4 b) => a.Equals(b);

    public static bool operator !=(FlowKeyV4 a, FlowKeyV4 b) => !a.Equals(b);

    public override string ToString() =>
        $"scope {Scope} proto {Protocol} {new System.Net.IPAddress(BinaryPrimitives.ReverseEndianness(AddressLow))}:{PortLow} <-> {new System.Net.IPAddress(BinaryPrimitives.ReverseEndianness(AddressHigh))}:{PortHigh}";
}
