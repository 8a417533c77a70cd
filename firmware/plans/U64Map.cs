using System.Runtime.CompilerServices;

namespace SnicRuntime.Firmware.Plans;

/// <summary>
/// An immutable open-addressing hash map from 64-bit keys to ints, for the per-packet lookups of a
/// compiled generation (VNI → direction, MAC → ENI, (VNET, IP) → mapping). Two flat arrays, linear
/// probing at ≤ 50% load, no virtual calls and no allocation on lookup: cheaper than Dictionary
/// on the hot path, and safe to share between workers because nothing writes it after build.
/// </summary>
public sealed class U64Map
{
    private const ulong Empty = ulong.MaxValue;
    private readonly ulong[] _keys;
    private readonly int[] _values;
    private readonly int _shift;

    public U64Map(IReadOnlyCollection<KeyValuePair<ulong, int>> entries)
    {
        int size = 8;
        while (size < entries.Count * 2)
        {
            size <<= 1;
        }

        _shift = 64 - System.Numerics.BitOperations.Log2((uint)size);
        _keys = new ulong[size];
        _values = new int[size];
        Array.Fill(_keys, Empty);
        foreach ((ulong key, int value) in entries)
        {
            if (key == Empty)
            {
                throw new ArgumentException("key 2^64-1 is reserved");
            }

            int i = Slot(key);
            while (_keys[i] != Empty && _keys[i] != key)
            {
                i = (i + 1) & (size - 1);
            }

            _keys[i] = key;
            _values[i] = value;
        }

        Count = entries.Count;
    }

    public int Count { get; }

    /// <summary>The value for <paramref name="key"/>, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Get(ulong key)
    {
        ulong[] keys = _keys;
        int mask = keys.Length - 1;
        int i = Slot(key);
        while (true)
        {
            ulong k = keys[i];
            if (k == key)
            {
                return _values[i];
            }

            if (k == Empty)
            {
                return -1;
            }

            i = (i + 1) & mask;
        }
    }

    /// <summary>Requests the cache line where <paramref name="key"/>'s probe starts (for burst-wise lookups).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(ulong key)
    {
        int i = Slot(key);
        Hal.CacheHint.Prefetch(ref _keys[i]);
        Hal.CacheHint.Prefetch(ref _values[i]);
    }

    // Fibonacci hashing: the top bits of key × 2^64/φ spread sequential keys (MACs, VNIs) well.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(ulong key) => (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);
}
