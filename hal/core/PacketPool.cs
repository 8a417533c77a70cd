using System.Runtime.InteropServices;

namespace SnicRuntime.Hal;

/// <summary>
/// Fixed-size packet buffers carved at start from one 64-byte-aligned native block (the role of
/// a DPDK mempool). Nothing is allocated after construction: alloc and free move indices through a
/// lock-free free list, so any thread may return a buffer. A pool can instead sit over buffers
/// another allocator owns (<see cref="ExternalBuffers"/>: the DPDK driver's mbufs), so a driver
/// can hand its own buffers to the workers without copying.
/// </summary>
public sealed unsafe partial class PacketPool : IDisposable
{
    public const int DefaultHeadroom = 128;
    public const int DefaultDataRoom = 2048;

    private readonly byte* _base;
    private readonly nuint _bytes;
    private readonly MpmcIndexRing? _free;
    private readonly ExternalBuffers _external;
    private long _allocFailures;
    private bool _disposed;

    public PacketPool(int bufferCount, int dataRoom = DefaultDataRoom, int headroom = DefaultHeadroom)
    {
        if (bufferCount <= 0 || bufferCount > (1 << 24))
        {
            throw new ArgumentOutOfRangeException(nameof(bufferCount), bufferCount, "a pool holds 1 to 16M buffers");
        }

        if (headroom < 0 || dataRoom < 64 || headroom + dataRoom > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(dataRoom), dataRoom, "headroom + data room must fit in 64 KiB and data room must be at least 64 bytes");
        }

        BufferCount = bufferCount;
        Headroom = headroom;
        DataRoom = dataRoom;
        // Round the slot to whole cache lines so every header starts a line.
        Stride = (sizeof(PacketHeader) + headroom + dataRoom + 63) & ~63;
        _bytes = (nuint)Stride * (nuint)bufferCount;
        _base = (byte*)NativeMemory.AlignedAlloc(_bytes, 64);
        _free = new MpmcIndexRing((int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)bufferCount));
        for (uint i = 0; i < bufferCount; i++)
        {
            var header = (PacketHeader*)(_base + (nuint)i * (nuint)Stride);
            *header = default;
            header->PoolIndex = i;
            header->BufferLength = (ushort)(headroom + dataRoom);
            _free.TryEnqueue(i);
        }
    }

    public int BufferCount { get; }

    public int Headroom { get; }

    public int DataRoom { get; }

    public int Stride { get; }

    public int Available => _external.Handle != 0 ? _external.Available(_external.Handle) : _free!.Count;

    public long AllocFailures => Volatile.Read(ref _allocFailures);

    /// <summary>Takes one buffer, reset to an empty frame with full headroom.</summary>
    public bool TryAlloc(out PacketRef packet)
    {
        if (_external.Handle != 0)
        {
            return ExternalAlloc(out packet);
        }

        if (!_free!.TryDequeue(out uint index))
        {
            Interlocked.Increment(ref _allocFailures);
            packet = default;
            return false;
        }

        var header = (PacketHeader*)(_base + (nuint)index * (nuint)Stride);
        header->DataOffset = (ushort)Headroom;
        header->DataLength = 0;
        header->Flags = 0;
        header->RssHash = 0;
        packet = new PacketRef(header);
        return true;
    }

    /// <summary>Fills as many of <paramref name="packets"/> as the pool can; returns how many.</summary>
    public int AllocBulk(Span<PacketRef> packets)
    {
        if (_external.Handle != 0)
        {
            return ExternalAllocBulk(packets);
        }

        for (int i = 0; i < packets.Length; i++)
        {
            if (!TryAlloc(out packets[i]))
            {
                return i;
            }
        }

        return packets.Length;
    }

    public void Free(PacketRef packet)
    {
        if (!Owns(packet))
        {
            throw new ArgumentException("packet does not belong to this pool", nameof(packet));
        }

        if (_external.Handle != 0)
        {
            PacketHeader* header = (PacketHeader*)packet.Raw;
            _external.Free(&header, 1);
            return;
        }

        // There are never more indices than cells, so "full" can only be transient: a consumer
        // that claimed this cell one lap ago has not yet released it. Wait for it; giving up
        // would leak the buffer.
        uint index = packet.Header.PoolIndex;
        while (!_free!.TryEnqueue(index))
        {
            Thread.SpinWait(4);
        }
    }

    public void FreeBulk(ReadOnlySpan<PacketRef> packets)
    {
        if (_external.Handle != 0)
        {
            ExternalFreeBulk(packets);
            return;
        }

        foreach (PacketRef p in packets)
        {
            Free(p);
        }
    }

    public bool Owns(PacketRef packet)
    {
        byte* p = (byte*)packet.Raw;
        return p >= _base && p < _base + _bytes && (Stride == 0 || (nuint)(p - _base) % (nuint)Stride == 0);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_external.Handle != 0)
        {
            _external.Destroy(_external.Handle);
            GC.SuppressFinalize(this);
            return;
        }

        _free!.Dispose();
        NativeMemory.AlignedFree(_base);
        GC.SuppressFinalize(this);
    }

    ~PacketPool()
    {
        Dispose();
    }
}
