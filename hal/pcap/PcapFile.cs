using System.Buffers.Binary;

namespace SnicRuntime.Hal.Pcap;

/// <summary>One captured frame.</summary>
public readonly record struct PcapRecord(long TimestampMicroseconds, int OriginalLength, byte[] Data);

/// <summary>Thrown for a capture file that is not a well-formed classic pcap.</summary>
public sealed class PcapFormatException(string message) : Exception(message);

/// <summary>
/// Reads classic libpcap files (both byte orders, micro- and nanosecond timestamps), Ethernet
/// link type. Setup-time code: records come back as arrays.
/// </summary>
public static class PcapReader
{
    public const uint LinkTypeEthernet = 1;
    private const int MaxSnapLength = 262144;

    public static List<PcapRecord> ReadAll(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return ReadAll(stream, path);
    }

    public static List<PcapRecord> ReadAll(Stream stream, string name = "capture")
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[24];
        if (stream.ReadAtLeast(header, 24, throwOnEndOfStream: false) < 24)
        {
            throw new PcapFormatException($"{name}: shorter than a pcap file header (24 bytes)");
        }

        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
        (bool bigEndian, bool nanos) = magic switch
        {
            0xA1B2C3D4 => (false, false),
            0xA1B23C4D => (false, true),
            0xD4C3B2A1 => (true, false),
            0x4D3CB2A1 => (true, true),
            _ => throw new PcapFormatException($"{name}: magic 0x{magic:X8} is not a classic pcap file (pcapng is not read here)"),
        };
        uint linkType = Read32(header[20..], bigEndian);
        if (linkType != LinkTypeEthernet)
        {
            throw new PcapFormatException($"{name}: link type {linkType} is not Ethernet (1)");
        }

        var records = new List<PcapRecord>();
        Span<byte> rec = stackalloc byte[16];
        while (true)
        {
            int got = stream.ReadAtLeast(rec, 16, throwOnEndOfStream: false);
            if (got == 0)
            {
                return records;
            }

            if (got < 16)
            {
                throw new PcapFormatException($"{name}: record {records.Count} header is truncated");
            }

            long seconds = Read32(rec, bigEndian);
            long fraction = Read32(rec[4..], bigEndian);
            int captured = (int)Math.Min(Read32(rec[8..], bigEndian), int.MaxValue);
            int original = (int)Math.Min(Read32(rec[12..], bigEndian), int.MaxValue);
            if (captured > MaxSnapLength)
            {
                throw new PcapFormatException($"{name}: record {records.Count} claims {captured} captured bytes (limit {MaxSnapLength})");
            }

            byte[] data = new byte[captured];
            if (stream.ReadAtLeast(data, captured, throwOnEndOfStream: false) < captured)
            {
                throw new PcapFormatException($"{name}: record {records.Count} data is truncated");
            }

            long micros = seconds * 1_000_000 + (nanos ? fraction / 1000 : fraction);
            records.Add(new PcapRecord(micros, original, data));
        }
    }

    private static uint Read32(ReadOnlySpan<byte> b, bool bigEndian) =>
        bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);
}

/// <summary>Writes classic little-endian microsecond pcap files, Ethernet link type.</summary>
public sealed class PcapWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly byte[] _recordHeader = new byte[16];

    public PcapWriter(Stream stream, int snapLength = 65535)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        Span<byte> h = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(h, 0xA1B2C3D4);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], (uint)snapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], PcapReader.LinkTypeEthernet);
        _stream.Write(h);
    }

    public static PcapWriter Create(string path) => new(File.Create(path));

    public void Write(ReadOnlySpan<byte> frame, long timestampMicroseconds = 0)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader, (uint)(timestampMicroseconds / 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader.AsSpan(4), (uint)(timestampMicroseconds % 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader.AsSpan(8), (uint)frame.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader.AsSpan(12), (uint)frame.Length);
        _stream.Write(_recordHeader);
        _stream.Write(frame);
    }

    /// <summary>Pushes what was written to the file (a reader following it sees it).</summary>
    public void Flush() => _stream.Flush();

    public void Dispose() => _stream.Dispose();
}
