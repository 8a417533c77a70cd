using System.Buffers.Binary;

namespace SnicRuntime.Hal.Pcap;

/// <summary>
/// A capture file as a port: rx reads frames from one pcap file (following it as it grows, like
/// <c>tail -f</c>), tx appends what the port emits to another. For replay and for recording;
/// one queue. Reads go straight into pool buffers and writes straight from them: nothing is
/// allocated per packet.
/// </summary>
public sealed class PcapPort : IPort
{
    private readonly PacketPool _pool;
    private readonly string? _inputPath;
    private readonly PcapWriter? _output;
    private readonly int _txDepth;
    private readonly byte[] _record = new byte[16];
    private readonly QueueCounters _rx = new();
    private readonly QueueCounters _tx = new();
    private FileStream? _input;
    private bool _inputReady;
    private volatile bool _linkUp = true;

    /// <param name="input">Capture to read (null: the port receives nothing).</param>
    /// <param name="output">Capture to write (created or truncated; null: what is sent is dropped as link down).</param>
    public PcapPort(PortSpec spec, PacketPool pool, string? input, string? output)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Id = spec.Id;
        Name = spec.Name;
        _pool = pool ?? throw new ArgumentNullException(nameof(pool));
        _inputPath = input;
        _txDepth = Math.Max(1, spec.TxDepth);
        if (output is not null)
        {
            // Shared for reading: a port that follows this file reads while we append.
            _output = new PcapWriter(new FileStream(output, FileMode.Create, FileAccess.Write, FileShare.Read));
            _output.Flush();
        }
    }

    public int Id { get; }

    public string Name { get; }

    public int QueueCount => 1;

    public bool LinkUp => _linkUp;

    /// <summary>Records the input had that could not be used (bad header, larger than a buffer): counted, skipped or stopped at.</summary>
    public long InputErrors { get; private set; }

    public void SetLink(bool up) => _linkUp = up;

    public PcapRxQueue RxQueue() => new(this);

    public PcapTxQueue TxQueue() => new(this);

    public PortCounters ReadCounters() => PortCounters.Sum([_rx], [_tx]);

    public int RxQueueDepth(int queue) => -1;

    internal int Receive(Span<PacketRef> packets)
    {
        if (_inputPath is null || !OpenInput())
        {
            return 0;
        }

        FileStream f = _input!;
        int n = 0;
        long bytes = 0;
        // The file's length once per burst: asking per record is a system call (fstat) each time,
        // which cost more than the rest of the read. What is appended meanwhile waits a burst.
        long length = f.Length;
        while (n < packets.Length)
        {
            long start = f.Position;
            if (length - start < 16)
            {
                break; // the next record is not (wholly) there yet
            }

            f.ReadExactly(_record);
            int captured = (int)BinaryPrimitives.ReadUInt32LittleEndian(_record.AsSpan(8));
            if (length - f.Position < captured)
            {
                f.Position = start; // written in part: read it whole next time
                break;
            }

            if (!_pool.TryAlloc(out PacketRef p))
            {
                f.Position = start; // no buffer now: the record waits, like a frame in a full ring
                break;
            }

            if (captured > p.Tailroom)
            {
                _pool.Free(p);
                f.Position += captured;
                InputErrors++;
                continue;
            }

            p.SetLength(captured);
            f.ReadExactly(p.Data);
            packets[n++] = p;
            bytes += captured;
        }

        _rx.Packets += n;
        _rx.Bytes += bytes;
        return n;
    }

    // The input may not exist yet (a writer is about to make it) or be shorter than its header.
    private bool OpenInput()
    {
        if (_inputReady)
        {
            return true;
        }

        if (_input is null)
        {
            if (!File.Exists(_inputPath))
            {
                return false;
            }

            _input = new FileStream(_inputPath!, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        }

        if (_input.Length < 24)
        {
            return false;
        }

        Span<byte> h = stackalloc byte[24];
        _input.ReadExactly(h);
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(h);
        if (magic is not (0xA1B2C3D4 or 0xA1B23C4D) || BinaryPrimitives.ReadUInt32LittleEndian(h[20..]) != PcapReader.LinkTypeEthernet)
        {
            throw new PcapFormatException($"{_inputPath}: not a little-endian Ethernet pcap file (magic 0x{magic:X8})");
        }

        _inputReady = true;
        return true;
    }

    internal int Send(ReadOnlySpan<PacketRef> packets)
    {
        if (!_linkUp || _output is null)
        {
            _tx.LinkDownDrops += packets.Length;
            return 0;
        }

        int n = Math.Min(packets.Length, _txDepth);
        long now = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10; // one clock read per burst
        long bytes = 0;
        for (int i = 0; i < n; i++)
        {
            _output.Write(packets[i].Data, now);
            bytes += packets[i].Length;
        }

        _output.Flush(); // a reader following the file sees the burst now
        _pool.FreeBulk(packets[..n]);
        _tx.Packets += n;
        _tx.Bytes += bytes;
        return n;
    }

    public void Dispose()
    {
        _input?.Dispose();
        _output?.Dispose();
    }
}

/// <summary>Receive side of a capture-file port.</summary>
public readonly struct PcapRxQueue : IRxQueue
{
    private readonly PcapPort _port;

    internal PcapRxQueue(PcapPort port) => _port = port;

    public int RxBurst(Span<PacketRef> packets) => _port.Receive(packets);
}

/// <summary>Transmit side of a capture-file port: appends and frees.</summary>
public readonly struct PcapTxQueue : ITxQueue
{
    private readonly PcapPort _port;

    internal PcapTxQueue(PcapPort port) => _port = port;

    public int TxBurst(ReadOnlySpan<PacketRef> packets) => _port.Send(packets);
}
