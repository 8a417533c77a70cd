using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SnicRuntime.Hal;

/// <summary>
/// Lock-free single-producer/single-consumer ring of unmanaged values in native memory: the
/// emulated NIC's descriptor rings (<see cref="PacketRef"/>) and the queues between a worker and
/// the HA sync thread (flow records). One thread enqueues, one thread dequeues; bursts move many
/// items for one release-store of a cursor.
/// </summary>
/// <remarks>
/// Each side keeps a cached copy of the other side's cursor and re-reads the shared one only when
/// the cached view says full/empty (the trick DPDK's rte_ring and LMAX use), so in steady state a
/// burst touches the other side's cache line about once per ring wrap, not once per burst.
/// </remarks>
public sealed unsafe class SpscRing<T> : IDisposable
    where T : unmanaged
{
    private readonly T* _slots;
    private readonly SpscCursors* _cursors;
    private readonly long _mask;
    private bool _disposed;

    public SpscRing(int capacityPowerOfTwo)
    {
        if (capacityPowerOfTwo < 2 || (capacityPowerOfTwo & (capacityPowerOfTwo - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacityPowerOfTwo), capacityPowerOfTwo, "ring size must be a power of two ≥ 2");
        }

        Capacity = capacityPowerOfTwo;
        _mask = capacityPowerOfTwo - 1;
        _slots = (T*)NativeMemory.AlignedAlloc((nuint)(sizeof(T) * capacityPowerOfTwo), 64);
        _cursors = (SpscCursors*)NativeMemory.AlignedAlloc((nuint)sizeof(SpscCursors), 64);
        *_cursors = default;
    }

    public int Capacity { get; }

    /// <summary>Approximate occupancy, safe to read from any thread.</summary>
    public int Count => (int)(Volatile.Read(ref _cursors->Head) - Volatile.Read(ref _cursors->Tail));

    /// <summary>Producer side. Enqueues as many as fit; returns how many.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int EnqueueBurst(ReadOnlySpan<T> packets)
    {
        SpscCursors* c = _cursors;
        long head = c->Head;
        long free = Capacity - (head - c->CachedTail);
        if (free < packets.Length)
        {
            c->CachedTail = Volatile.Read(ref c->Tail); // acquire: the consumer is done with those slots
            free = Capacity - (head - c->CachedTail);
        }

        int n = (int)Math.Min(free, packets.Length);
        ref T src = ref MemoryMarshal.GetReference(packets);
        for (int i = 0; i < n; i++)
        {
            _slots[(head + i) & _mask] = Unsafe.Add(ref src, i);
        }

        Volatile.Write(ref c->Head, head + n); // release: slots are visible before the cursor
        return n;
    }

    /// <summary>Consumer side. Dequeues up to <c>packets.Length</c>; returns how many.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int DequeueBurst(Span<T> packets)
    {
        SpscCursors* c = _cursors;
        long tail = c->Tail;
        long ready = c->CachedHead - tail;
        if (ready < packets.Length)
        {
            c->CachedHead = Volatile.Read(ref c->Head);
            ready = c->CachedHead - tail;
        }

        int n = (int)Math.Min(ready, packets.Length);
        ref T dst = ref MemoryMarshal.GetReference(packets);
        for (int i = 0; i < n; i++)
        {
            Unsafe.Add(ref dst, i) = _slots[(tail + i) & _mask];
        }

        Volatile.Write(ref c->Tail, tail + n);
        return n;
    }

    /// <summary>Producer side, one item: false when the ring is full.</summary>
    public bool TryEnqueue(in T item) => EnqueueBurst(new ReadOnlySpan<T>(in item)) == 1;

    /// <summary>Consumer side, one item: false when the ring is empty.</summary>
    public bool TryDequeue(out T item)
    {
        item = default;
        return DequeueBurst(new Span<T>(ref item)) == 1;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        NativeMemory.AlignedFree(_slots);
        NativeMemory.AlignedFree(_cursors);
        GC.SuppressFinalize(this);
    }

    ~SpscRing()
    {
        Dispose();
    }
}

/// <summary>
/// The cursors of an <see cref="SpscRing{T}"/>, producer's and consumer's each on its own cache
/// line so the two threads do not false-share. Outside the ring because a generic type (or a type
/// nested in one) cannot have explicit layout.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 192)]
internal struct SpscCursors
{
    [FieldOffset(64)] public long Head;        // producer-owned: next slot to write
    [FieldOffset(72)] public long CachedTail;  // producer's last view of Tail
    [FieldOffset(128)] public long Tail;       // consumer-owned: next slot to read
    [FieldOffset(136)] public long CachedHead; // consumer's last view of Head
}
