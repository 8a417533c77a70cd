namespace SnicRuntime.Hal;

/// <summary>
/// A buffer allocator outside the runtime whose buffers are laid out as ours (a PacketHeader, then
/// headroom, then data): the DPDK driver's mbuf pool, with the header in each mbuf's private area.
/// Alloc and free are direct native calls without a GC transition: each is a few dozen
/// instructions over DPDK's lock-free mempool and never blocks.
/// </summary>
internal unsafe struct ExternalBuffers
{
    public nint Handle;
    public delegate* unmanaged[SuppressGCTransition]<nint, PacketHeader**, int, ushort, int> Alloc;
    public delegate* unmanaged[SuppressGCTransition]<PacketHeader**, int, void> Free;
    public delegate* unmanaged<nint, int> Available;
    public delegate* unmanaged<nint, void> Destroy;

    /// <summary>Where the headers lie: [Low, High); Stride when every header is at Low + i × Stride, else 0.</summary>
    public byte* Low;
    public byte* High;
    public int Stride;
}

public sealed unsafe partial class PacketPool
{
    /// <summary>A pool over <paramref name="external"/>'s buffers (it owns them: disposing the pool destroys it).</summary>
    internal PacketPool(in ExternalBuffers external, int bufferCount, int dataRoom, int headroom)
    {
        _external = external;
        BufferCount = bufferCount;
        Headroom = headroom;
        DataRoom = dataRoom;
        Stride = external.Stride;
        _base = external.Low;
        _bytes = (nuint)(external.High - external.Low);
    }

    /// <summary>The external allocator's handle (a DPDK rte_mempool*), or 0 for a pool of our own.</summary>
    internal nint ExternalHandle => _external.Handle;

    private bool ExternalAlloc(out PacketRef packet)
    {
        PacketHeader* header;
        if (_external.Alloc(_external.Handle, &header, 1, (ushort)Headroom) != 1)
        {
            Interlocked.Increment(ref _allocFailures);
            packet = default;
            return false;
        }

        packet = new PacketRef(header);
        return true;
    }

    private int ExternalAllocBulk(Span<PacketRef> packets)
    {
        int n;
        // A PacketRef is exactly one PacketHeader pointer, so the span is the native array.
        fixed (PacketRef* p = packets)
        {
            n = _external.Alloc(_external.Handle, (PacketHeader**)p, packets.Length, (ushort)Headroom);
        }

        if (n < packets.Length)
        {
            Interlocked.Increment(ref _allocFailures);
        }

        return n;
    }

    private void ExternalFreeBulk(ReadOnlySpan<PacketRef> packets)
    {
        foreach (PacketRef p in packets)
        {
            if (!Owns(p))
            {
                throw new ArgumentException("packet does not belong to this pool", nameof(packets));
            }
        }

        fixed (PacketRef* p = packets)
        {
            _external.Free((PacketHeader**)p, packets.Length);
        }
    }
}
