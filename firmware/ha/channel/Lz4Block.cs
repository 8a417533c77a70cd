using System.Buffers.Binary;
using System.Numerics;

namespace SnicRuntime.Firmware.Ha.Channel;

/// <summary>
/// Compression of replication frames in the LZ4 block format (the format of lz4's
/// LZ4_compress_default / LZ4_decompress_safe, so any LZ4 implementation reads what this writes
/// and the other way round — tested against python3-lz4). Why not Brotli: it added ~850 KB of
/// native code to the firmware image (SPEC: ≤ 15 MB), and flow-record batches are repetitive
/// enough for a greedy LZ77 with a 4K-entry hash table, at a fraction of Brotli's cost per byte.
/// </summary>
/// <remarks>
/// A block is a run of sequences: a token (high nibble literal length, low nibble match length −
/// 4; 15 means "more length bytes follow, 255 each until one is smaller"), the literals, a 2-byte
/// little-endian offset back into the output, extra match-length bytes. The last sequence is
/// literals only; matches end at least 12 bytes before the end and the last 5 bytes are literals,
/// as the format requires. Decoding checks every length and offset against both buffers, so a
/// malformed block is a false return, never an out-of-bounds read or write.
/// </remarks>
public sealed class Lz4Block
{
    private const int MinMatch = 4;
    private const int LastLiterals = 5;
    private const int MatchSafeDistance = 12;
    private const int HashLog = 12;

    private readonly int[] _table = new int[1 << HashLog];

    /// <summary>Largest output <see cref="TryCompress"/> can need for <paramref name="length"/> input bytes (incompressible data grows slightly).</summary>
    public static int MaxCompressedLength(int length) => length + (length / 255) + 16;

    /// <summary>Compresses <paramref name="source"/>; false when the result would not fit <paramref name="destination"/>.</summary>
    public bool TryCompress(ReadOnlySpan<byte> source, Span<byte> destination, out int written)
    {
        written = 0;
        int n = source.Length;
        Array.Fill(_table, -1);
        int anchor = 0, i = 0, o = 0;
        int matchLimit = n - MatchSafeDistance;
        while (i < matchLimit)
        {
            uint sequence = BinaryPrimitives.ReadUInt32LittleEndian(source[i..]);
            int h = (int)((sequence * 2654435761u) >> (32 - HashLog));
            int candidate = _table[h];
            _table[h] = i;
            if (candidate < 0 || i - candidate > 65535 || BinaryPrimitives.ReadUInt32LittleEndian(source[candidate..]) != sequence)
            {
                i++;
                continue;
            }

            // Extend the match forward, stopping LastLiterals before the end.
            int length = MinMatch;
            int limit = n - LastLiterals;
            while (i + length < limit && source[candidate + length] == source[i + length])
            {
                length++;
            }

            if (!WriteSequence(destination, ref o, source[anchor..i], i - candidate, length))
            {
                return false;
            }

            i += length;
            anchor = i;
        }

        if (!WriteSequence(destination, ref o, source[anchor..], 0, 0))
        {
            return false;
        }

        written = o;
        return true;
    }

    // One sequence: token, literal length, literals, then (if a match) offset and match length.
    private static bool WriteSequence(Span<byte> d, ref int o, ReadOnlySpan<byte> literals, int offset, int matchLength)
    {
        int lit = literals.Length;
        int ml = matchLength == 0 ? 0 : matchLength - MinMatch;
        int need = 1 + (lit / 255) + 1 + lit + (matchLength == 0 ? 0 : 2 + (ml / 255) + 1);
        if (o + need > d.Length)
        {
            return false;
        }

        d[o++] = (byte)((Math.Min(lit, 15) << 4) | (matchLength == 0 ? 0 : Math.Min(ml, 15)));
        WriteLength(d, ref o, lit);
        literals.CopyTo(d[o..]);
        o += lit;
        if (matchLength != 0)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(d[o..], (ushort)offset);
            o += 2;
            WriteLength(d, ref o, ml);
        }

        return true;
    }

    private static void WriteLength(Span<byte> d, ref int o, int length)
    {
        if (length < 15)
        {
            return;
        }

        length -= 15;
        while (length >= 255)
        {
            d[o++] = 255;
            length -= 255;
        }

        d[o++] = (byte)length;
    }

    /// <summary>Decompresses a block; false (nothing usable written) when it is malformed or does not fit <paramref name="destination"/>.</summary>
    public static bool TryDecompress(ReadOnlySpan<byte> source, Span<byte> destination, out int written)
    {
        written = 0;
        int i = 0, o = 0;
        while (i < source.Length)
        {
            byte token = source[i++];
            if (!ReadLength(source, ref i, token >> 4, out int lit) || lit > source.Length - i || lit > destination.Length - o)
            {
                return false;
            }

            source.Slice(i, lit).CopyTo(destination[o..]);
            i += lit;
            o += lit;
            if (i == source.Length)
            {
                break; // the last sequence has literals only
            }

            if (source.Length - i < 2)
            {
                return false;
            }

            int offset = BinaryPrimitives.ReadUInt16LittleEndian(source[i..]);
            i += 2;
            if (!ReadLength(source, ref i, token & 15, out int ml))
            {
                return false;
            }

            ml += MinMatch;
            if (offset == 0 || offset > o || ml > destination.Length - o)
            {
                return false;
            }

            // Byte by byte: a match may overlap its own output (offset < length repeats a pattern).
            for (int k = 0; k < ml; k++)
            {
                destination[o + k] = destination[o - offset + k];
            }

            o += ml;
        }

        written = o;
        return true;
    }

    private static bool ReadLength(ReadOnlySpan<byte> s, ref int i, int nibble, out int length)
    {
        length = nibble;
        if (nibble != 15)
        {
            return true;
        }

        byte b;
        do
        {
            if (i >= s.Length || length > int.MaxValue - 255)
            {
                return false;
            }

            b = s[i++];
            length += b;
        }
        while (b == 255);
        return true;
    }
}
