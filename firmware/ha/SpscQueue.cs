using System.Runtime.InteropServices;

namespace SnicRuntime.Firmware.Ha;

/// <summary>
/// A bounded single-producer single-consumer queue of unmanaged values (a worker and the HA sync
/// thread): no locks, no allocation after construction; head and tail sit on their own cache
/// lines so the two threads do not false-share.
/// </summary>
public sealed class SpscQueue<T> where T : unmanaged
{
    private readonly T[] _items;
    private readonly long _mask;
    private readonly SpscCursors _cursors = new();

    public SpscQueue(int capacity)
    {
        if (capacity < 2 || (capacity & (capacity - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "capacity must be a power of two ≥ 2");
        }

        _items = new T[capacity];
        _mask = capacity - 1;
    }

    public int Capacity => _items.Length;

    public int Count => (int)(Volatile.Read(ref _cursors.Tail) - Volatile.Read(ref _cursors.Head));

    public bool TryEnqueue(in T item)
    {
        long tail = _cursors.Tail;
        if (tail - Volatile.Read(ref _cursors.Head) >= _items.Length)
        {
            return false;
        }

        _items[tail & _mask] = item;
        Volatile.Write(ref _cursors.Tail, tail + 1);
        return true;
    }

    public bool TryDequeue(out T item)
    {
        long head = _cursors.Head;
        if (head == Volatile.Read(ref _cursors.Tail))
        {
            item = default;
            return false;
        }

        item = _items[head & _mask];
        Volatile.Write(ref _cursors.Head, head + 1);
        return true;
    }
}

/// <summary>Head and tail of a <see cref="SpscQueue{T}"/>, each on its own cache line (a generic type cannot have explicit layout, so it lives here).</summary>
[StructLayout(LayoutKind.Explicit, Size = 192)]
internal sealed class SpscCursors
{
    [FieldOffset(64)] public long Head; // next to read (consumer)
    [FieldOffset(128)] public long Tail; // next to write (producer)
}
