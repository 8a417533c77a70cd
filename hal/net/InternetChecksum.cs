using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SnicRuntime.Hal.Net;

/// <summary>
/// The Internet checksum (RFC 1071) and its incremental update (RFC 1624). Shared by the
/// dataplane (verify, rewrite after NAT/TTL changes) and the traffic generator.
/// </summary>
public static class InternetChecksum
{
    /// <summary>Ones'-complement sum of <paramref name="data"/> folded to 16 bits, not inverted.</summary>
    /// <remarks>
    /// Sums native-endian 64-bit words with end-around carry, which is byte-order independent
    /// (RFC 1071 §2(B)), then swaps once at the end on little-endian machines: eight bytes per
    /// add instead of two.
    /// </remarks>
    public static uint Sum(ReadOnlySpan<byte> data, uint initial = 0)
    {
        ulong acc = 0;
        ref byte p = ref MemoryMarshal.GetReference(data);
        int i = 0;
        int n = data.Length;
        for (; i + 8 <= n; i += 8)
        {
            ulong w = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, i));
            acc += w;
            if (acc < w)
            {
                acc++; // end-around carry
            }
        }

        // Fold 64 -> 32 -> 16 bits (native order).
        ulong folded = (acc & 0xFFFFFFFF) + (acc >> 32);
        folded = (folded & 0xFFFFFFFF) + (folded >> 32);
        uint sum = (uint)folded;
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        if (BitConverter.IsLittleEndian)
        {
            sum = BinaryPrimitives.ReverseEndianness((ushort)sum);
        }

        uint tail = 0;
        for (; i + 2 <= n; i += 2)
        {
            tail += (uint)(Unsafe.Add(ref p, i) << 8 | Unsafe.Add(ref p, i + 1));
        }

        if (i < n)
        {
            tail += (uint)(Unsafe.Add(ref p, i) << 8);
        }

        return Fold(sum + tail + initial);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Fold(uint sum)
    {
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return sum;
    }

    /// <summary>The checksum to store: the complement of the folded sum.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, uint initial = 0) => (ushort)~Sum(data, initial);

    /// <summary>
    /// Computes the IPv4 header checksum of <paramref name="header"/> as if its checksum field
    /// (bytes 10-11) were zero.
    /// </summary>
    public static ushort Ipv4Header(ReadOnlySpan<byte> header)
    {
        uint stored = BinaryPrimitives.ReadUInt16BigEndian(header[10..]);
        // Subtracting the stored value in ones' complement = adding its complement.
        uint sum = Sum(header) + (~stored & 0xFFFF);
        return (ushort)~Fold(sum);
    }

    /// <summary>True when an IPv4 header's checksum is correct (the sum over it is 0xFFFF).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool VerifyIpv4Header(ReadOnlySpan<byte> header)
    {
        if (header.Length != 20)
        {
            return Sum(header) == 0xFFFF;
        }

        // The common option-less header: five 32-bit words, no loop. Ones'-complement sums are
        // byte-order independent, so native-endian words fold to 0xFFFF exactly when the
        // big-endian sum does.
        ref byte p = ref MemoryMarshal.GetReference(header);
        ulong a = Unsafe.ReadUnaligned<ulong>(ref p);
        ulong b = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref p, 8));
        ulong sum = (a & 0xFFFFFFFF) + (a >> 32) + (b & 0xFFFFFFFF) + (b >> 32) + Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, 16));
        sum = (sum & 0xFFFFFFFF) + (sum >> 32);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return sum == 0xFFFF;
    }

    /// <summary>Sum of the IPv4 pseudo-header for a TCP/UDP checksum.</summary>
    public static uint PseudoHeaderV4(ReadOnlySpan<byte> src, ReadOnlySpan<byte> dst, byte protocol, int l4Length) =>
        Fold(Sum(src) + Sum(dst) + protocol + (uint)l4Length);

    /// <summary>Sum of the IPv6 pseudo-header for a TCP/UDP/ICMPv6 checksum.</summary>
    public static uint PseudoHeaderV6(ReadOnlySpan<byte> src, ReadOnlySpan<byte> dst, byte nextHeader, int l4Length) =>
        Fold(Sum(src) + Sum(dst) + nextHeader + (uint)(l4Length >> 16) + (uint)(l4Length & 0xFFFF));

    /// <summary>
    /// RFC 1624 eqn. 3: the new checksum after one 16-bit field changed from
    /// <paramref name="oldValue"/> to <paramref name="newValue"/>: HC' = ~(~HC + ~m + m').
    /// Unlike RFC 1141's eqn. it cannot turn a correct checksum into the -0 (0xFFFF) form.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update16(ushort checksum, ushort oldValue, ushort newValue)
    {
        uint sum = (uint)(ushort)~checksum + (uint)(ushort)~oldValue + newValue;
        return (ushort)~Fold(sum);
    }

    /// <summary>RFC 1624 update for a changed 32-bit field (an IPv4 address).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update32(ushort checksum, uint oldValue, uint newValue)
    {
        uint sum = (uint)(ushort)~checksum
            + (uint)(ushort)~(oldValue >> 16) + (uint)(ushort)~oldValue
            + (newValue >> 16) + (newValue & 0xFFFF);
        return (ushort)~Fold(sum);
    }
}
