using System.Runtime.InteropServices;

namespace SnicRuntime.Hal;

/// <summary>
/// Bounded lock-free multi-producer/multi-consumer queue of 32-bit indices (Dmitry Vyukov's design).
/// Each cell carries a sequence number, so producers and consumers claim cells with one CAS on
/// their cursor and never see a half-written cell; there is no ABA because sequences only grow.
/// Used as the packet pool's free list, where rx, tx and drop paths on different threads return
/// buffers.
/// </summary>
internal sealed unsafe class MpmcIndexRing : IDisposable
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Cell
    {
        public long Sequence;
        public uint Value;
    }

    // Cursors on their own cache lines so producers and consumers do not false-share.
    [StructLayout(LayoutKind.Explicit, Size = 192)]
    private struct Cursors
    {
        [FieldOffset(64)] public long Enqueue;
        [FieldOffset(128)] public long Dequeue;
    }

    private readonly Cell* _cells;
    private readonly Cursors* _cursors;
    private readonly long _mask;

    public MpmcIndexRing(int capacityPowerOfTwo)
    {
        if (capacityPowerOfTwo < 2 || (capacityPowerOfTwo & (capacityPowerOfTwo - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacityPowerOfTwo), capacityPowerOfTwo, "capacity must be a power of two ≥ 2");
        }

        Capacity = capacityPowerOfTwo;
        _mask = capacityPowerOfTwo - 1;
        _cells = (Cell*)NativeMemory.AlignedAlloc((nuint)(sizeof(Cell) * capacityPowerOfTwo), 64);
        _cursors = (Cursors*)NativeMemory.AlignedAlloc((nuint)sizeof(Cursors), 64);
        *_cursors = default;
        for (long i = 0; i < capacityPowerOfTwo; i++)
        {
            _cells[i].Sequence = i;
        }
    }

    public int Capacity { get; }

    public int Count
    {
        get
        {
            long n = Volatile.Read(ref _cursors->Enqueue) - Volatile.Read(ref _cursors->Dequeue);
            return (int)Math.Clamp(n, 0, Capacity);
        }
    }

    public bool TryEnqueue(uint value)
    {
        long pos = Volatile.Read(ref _cursors->Enqueue);
        while (true)
        {
            Cell* cell = &_cells[pos & _mask];
            long seq = Volatile.Read(ref cell->Sequence);
            long diff = seq - pos;
            if (diff == 0)
            {
                long seen = Interlocked.CompareExchange(ref _cursors->Enqueue, pos + 1, pos);
                if (seen == pos)
                {
                    cell->Value = value;
                    Volatile.Write(ref cell->Sequence, pos + 1);
                    return true;
                }

                pos = seen;
            }
            else if (diff < 0)
            {
                return false; // full
            }
            else
            {
                pos = Volatile.Read(ref _cursors->Enqueue);
            }
        }
    }

    public bool TryDequeue(out uint value)
    {
        long pos = Volatile.Read(ref _cursors->Dequeue);
        while (true)
        {
            Cell* cell = &_cells[pos & _mask];
            long seq = Volatile.Read(ref cell->Sequence);
            long diff = seq - (pos + 1);
            if (diff == 0)
            {
                long seen = Interlocked.CompareExchange(ref _cursors->Dequeue, pos + 1, pos);
                if (seen == pos)
                {
                    value = cell->Value;
                    Volatile.Write(ref cell->Sequence, pos + _mask + 1);
                    return true;
                }

                pos = seen;
            }
            else if (diff < 0)
            {
                value = 0;
                return false; // empty
            }
            else
            {
                pos = Volatile.Read(ref _cursors->Dequeue);
            }
        }
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(_cells);
        NativeMemory.AlignedFree(_cursors);
    }
}
