using System.Numerics;
using System.Runtime.CompilerServices;

namespace SnicRuntime.Firmware.Routing;

/// <summary>One prefix for <see cref="IntervalMap{T}"/>: the address range it covers and its value.</summary>
public readonly record struct PrefixRange<T>(T First, T Last, int Value) where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
{
    /// <summary>The range of <paramref name="prefix"/>/<paramref name="length"/> (prefix already masked or not).</summary>
    public static PrefixRange<T> Of(T prefix, int length, int value)
    {
        int bits = Unsafe.SizeOf<T>() * 8;
        T hostMask = length == 0 ? T.AllBitsSet : length == bits ? T.Zero : (T.One << (bits - length)) - T.One;
        T first = prefix & ~hostMask;
        return new PrefixRange<T>(first, first | hostMask, value);
    }
}

/// <summary>
/// Longest-prefix match as a range search (Lampson, Srinivasan, Varghese 1998): a prefix set is
/// cut into elementary intervals, each carrying the value of the longest prefix that covers it; a
/// lookup finds the last interval start ≤ the address. A 2^16- to 2^20-entry index on the top
/// address bits (wider for larger maps) narrows the binary search to the few boundaries inside that
/// block, so a lookup is one index read plus a short search in one or two cache lines.
/// </summary>
/// <remarks>
/// Immutable once built, so a compiled configuration generation can share it between workers with
/// no locks. Used for route tables (IPv4 and IPv6, <see cref="uint"/> and <see cref="UInt128"/>)
/// and for the per-dimension classes of the ACL classifier. Memory: two arrays of
/// (2 × prefixes + 1) entries plus the 256 KiB index.
/// </remarks>
public sealed class IntervalMap<T> where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
{
    private readonly int _shift;

    // Boundary and value side by side: the search's last line read also holds the answer.
    private readonly Boundary[] _bounds;
    // _index[b] = first boundary of /16 block b's search window; _index[b + 1] bounds it.
    private readonly int[] _index;

    private IntervalMap(T[] starts, int[] values)
    {
        _bounds = new Boundary[starts.Length];
        for (int k = 0; k < starts.Length; k++)
        {
            _bounds[k] = new Boundary(starts[k], values[k]);
        }

        // Index width: 16 bits for small maps; large maps get up to 20 bits (4 MiB) so the search
        // window stays within a cache line or two instead of ~9 dependent misses.
        int indexBits = Math.Clamp(System.Numerics.BitOperations.Log2((uint)starts.Length) + 2, 16, 20);
        _shift = Unsafe.SizeOf<T>() * 8 - indexBits;
        _index = new int[(1 << indexBits) + 1];
        int i = 0;
        for (int b = 0; b < 1 << indexBits; b++)
        {
            T blockStart = T.CreateTruncating(b) << _shift;
            while (i + 1 < starts.Length && starts[i + 1] <= blockStart)
            {
                i++;
            }

            _index[b] = i; // last boundary ≤ block start: the window always begins inside the answer
        }

        _index[1 << indexBits] = starts.Length - 1;
    }

    public int IntervalCount => _bounds.Length;

    public long TotalBytes => (long)_bounds.Length * Unsafe.SizeOf<Boundary>() + _index.Length * 4L;

    /// <summary>
    /// Builds the map. Prefixes must nest or be disjoint (true of any prefix set); duplicates of one
    /// prefix keep the last value. Addresses no prefix covers map to -1.
    /// </summary>
    public static IntervalMap<T> Build(IEnumerable<PrefixRange<T>> prefixes)
    {
        var sorted = new List<PrefixRange<T>>(prefixes);
        // Outer before inner at the same start (larger Last first); for equal ranges the later
        // input wins, which a stable sort plus "replace the top" below gives.
        var order = new int[sorted.Count];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) =>
        {
            int c = sorted[a].First.CompareTo(sorted[b].First);
            if (c != 0)
            {
                return c;
            }

            c = sorted[b].Last.CompareTo(sorted[a].Last);
            return c != 0 ? c : a.CompareTo(b);
        });

        var starts = new List<T> { T.Zero };
        var values = new List<int> { -1 };
        var stack = new List<PrefixRange<T>>();

        void Emit(T at, int value)
        {
            if (starts[^1] == at)
            {
                values[^1] = value;
            }
            else
            {
                starts.Add(at);
                values.Add(value);
            }
        }

        void PopWhileEndsBefore(T address, bool all)
        {
            while (stack.Count > 0 && (all || stack[^1].Last < address))
            {
                PrefixRange<T> top = stack[^1];
                stack.RemoveAt(stack.Count - 1);
                if (top.Last != T.AllBitsSet)
                {
                    Emit(top.Last + T.One, stack.Count > 0 ? stack[^1].Value : -1);
                }
            }
        }

        foreach (int i in order)
        {
            PrefixRange<T> p = sorted[i];
            PopWhileEndsBefore(p.First, all: false);
            if (stack.Count > 0 && stack[^1].First == p.First && stack[^1].Last == p.Last)
            {
                stack[^1] = p; // the same prefix again: the later one wins
            }
            else
            {
                stack.Add(p);
            }

            Emit(p.First, p.Value);
        }

        PopWhileEndsBefore(T.Zero, all: true);

        // Merge neighbours with the same value (fewer boundaries, shorter searches).
        var mergedStarts = new List<T>(starts.Count);
        var mergedValues = new List<int>(starts.Count);
        for (int i = 0; i < starts.Count; i++)
        {
            if (mergedValues.Count > 0 && mergedValues[^1] == values[i])
            {
                continue;
            }

            mergedStarts.Add(starts[i]);
            mergedValues.Add(values[i]);
        }

        return new IntervalMap<T>([.. mergedStarts], [.. mergedValues]);
    }

    /// <summary>The value of the longest prefix covering <paramref name="address"/>, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Lookup(T address)
    {
        int block = int.CreateTruncating(address >> _shift);
        return Search(address, _index[block], _index[block + 1]);
    }

    // Bulk lookups in three passes, each issuing all its independent loads before any is used,
    // so the DRAM misses of a burst overlap instead of queueing one behind another.

    /// <summary>Pass 1 of a bulk lookup: requests the index entry of <paramref name="address"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void PrefetchIndex(T address) => Hal.CacheHint.Prefetch(ref _index[int.CreateTruncating(address >> _shift)]);

    /// <summary>Pass 2: reads the search window and requests its middle boundary and value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public (int Lo, int Hi) Window(T address)
    {
        int block = int.CreateTruncating(address >> _shift);
        int lo = _index[block], hi = _index[block + 1];
        Hal.CacheHint.Prefetch(ref _bounds[(lo + hi) >>> 1]);
        return (lo, hi);
    }

    /// <summary>Pass 3: the search inside a window from <see cref="Window"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Search(T address, int lo, int hi)
    {
        Boundary[] bounds = _bounds;
        // Invariant: bounds[lo].Start ≤ address; find the last such index in [lo, hi].
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >>> 1;
            if (bounds[mid].Start <= address)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return bounds[lo].Value;
    }

    private readonly record struct Boundary(T Start, int Value);
}
