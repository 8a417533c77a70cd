using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SnicRuntime.Hal;

namespace SnicRuntime.Firmware.Flows;

public enum InsertResult : byte
{
    Inserted,
    /// <summary>The key is already present; its position is returned.</summary>
    Exists,
    /// <summary>Both candidate buckets are full: counted, nothing changed.</summary>
    Full,
}

/// <summary>
/// A worker's exact-match flow table: keys inline in bucket lines, two candidate buckets per key,
/// SIMD compare of a whole bucket, bulk lookup with prefetch, fixed capacity, O(1) aging.
/// </summary>
/// <remarks>
/// <para>Layout. Buckets are <c>TKey.BucketBytes</c> (64 B = 4 IPv4 keys, 128 B = 3 IPv6 keys),
/// aligned. The key itself is in the bucket, so a lookup costs one bucket fetch and one SIMD
/// compare, not a signature fetch followed by a dependent key fetch (rte_hash's two misses).
/// Values (<see cref="FlowEntry"/>, 32 B) sit in a parallel array at the same position.</para>
/// <para>Placement. A key lives in its primary bucket (fastrange of its CRC32C) if there is room,
/// else in its secondary; when both are full, a short breadth-first cuckoo search moves resident
/// flows to their other bucket (only inserts move flows, so a position read in a burst stays
/// valid until that burst inserts). A byte per bucket counts keys that live in their secondary
/// while this is their primary; while it is zero a miss is decided after one bucket.</para>
/// <para>Threads. One worker owns the table and is its only writer. Other threads read through
/// <see cref="ReadFlows"/>, which copies bucket by bucket under a per-bucket sequence number
/// (seqlock) bumped by inserts and deletes, so every flow a reader sees is whole.</para>
/// </remarks>
public sealed unsafe partial class FlowTable<TKey> : IDisposable where TKey : unmanaged, IFlowKey<TKey>
{
    private const uint SecondarySalt = 0x5BD1E995;

    private readonly byte* _buckets;
    private readonly FlowEntry* _entries;
    private readonly byte* _overflow;
    // One tag byte per slot (a byte of the key's hash, never 0; 0 = empty): a 1-byte-per-flow
    // filter that is small enough to stay in cache, so most misses never touch a bucket line.
    private readonly byte* _tags;
    private readonly uint* _versions;
    private readonly uint _bucketCount;
    private readonly uint _hashMask;
    private bool _disposed;

    // The key type's geometry, constants of each instantiation (fields before): bucket addresses
    // and positions compile to shifts and adds, and a two-line prefetch to no branch (4M flows,
    // pinned interleaved pairs: 16.5-16.8 vs 17.0-19.6 ns per lookup).
    private static int Slots => TKey.SlotsPerBucket;

    private static int BucketBytes => TKey.BucketBytes;

    /// <param name="capacity">Flows the table is sized for.</param>
    /// <param name="loadFactor">Target fill of the slots at <paramref name="capacity"/>.</param>
    /// <param name="startMs">The owner's clock (ms) now; aging starts from here.</param>
    /// <param name="hashMask">Bits of the hash kept; tests pass a small mask to force collisions.</param>
    public FlowTable(int capacity, double loadFactor = 0.8, AgingPolicy? aging = null, uint startMs = 0, uint hashMask = uint.MaxValue)
    {
        if (capacity is < 1 or > (1 << 28))
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "capacity must be 1..268435456 flows");
        }

        if (loadFactor is <= 0.1 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(loadFactor), loadFactor, "load factor must be in (0.1, 1]");
        }

        _bucketCount = (uint)Math.Max(2, Math.Ceiling(capacity / loadFactor / Slots));
        _hashMask = hashMask;
        Capacity = capacity;
        long slots = (long)_bucketCount * Slots;
        _buckets = (byte*)LargePages.Allocate((nuint)_bucketCount * (nuint)BucketBytes);
        _entries = (FlowEntry*)LargePages.Allocate((nuint)slots * (nuint)sizeof(FlowEntry));
        _overflow = (byte*)NativeMemory.AlignedAlloc(_bucketCount, 64);
        _tags = (byte*)LargePages.Allocate((nuint)slots + 8); // +8: the last bucket's 4-byte read
        _versions = (uint*)NativeMemory.AlignedAlloc(_bucketCount * sizeof(uint), 64);
        // Empty keys are all ones (IFlowKey contract), so marking every slot free is one fill.
        NativeMemory.Fill(_buckets, (nuint)_bucketCount * (nuint)BucketBytes, 0xFF);

        NativeMemory.Clear(_overflow, _bucketCount);
        NativeMemory.Clear(_versions, _bucketCount * sizeof(uint));
        TotalBytes = (long)_bucketCount * BucketBytes + slots * sizeof(FlowEntry) + _bucketCount * 5L + slots;
        InitAging(aging ?? AgingPolicy.Default, startMs);
    }

    public int Capacity { get; }

    public int Count { get; private set; }

    /// <summary>Positions run from 0 to this (exclusive).</summary>
    public int PositionCount => (int)(_bucketCount * (uint)Slots);

    /// <summary>Memory the table holds, all of it allocated at construction.</summary>
    public long TotalBytes { get; }

    /// <summary>Bytes per flow at full capacity; one entry serves both directions.</summary>
    public double BytesPerFlow => (double)TotalBytes / Capacity;

    public FlowTableCounters Counters { get; } = new();

    public ref FlowEntry Entry(int position) => ref _entries[position];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchEntry(int position) => CacheHint.Prefetch(_entries + position);

    public TKey KeyAt(int position) => *KeyPointer(position);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* Bucket(uint b) => _buckets + (nuint)b * (nuint)BucketBytes;

    private TKey* KeyPointer(int position) =>
        (TKey*)(Bucket((uint)(position / Slots)) + (position % Slots) * sizeof(TKey));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint Primary(uint hash) => (uint)(((ulong)hash * _bucketCount) >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint Secondary(uint hash, uint primary)
    {
        uint b = (uint)(((ulong)System.Numerics.BitOperations.Crc32C(hash, SecondarySalt) * _bucketCount) >> 32);
        return b != primary ? b : (primary + 1 == _bucketCount ? 0 : primary + 1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint HashOf(in TKey key) => key.Hash() & _hashMask;

    /// <summary>The tag of a hash: its low byte (fastrange uses the high bits), never 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte TagOf(uint hash) => (byte)hash == 0 ? (byte)1 : (byte)hash;

    /// <summary>
    /// Whether any slot of bucket <paramref name="b"/> may hold a key with this tag (SWAR "has a
    /// zero byte" test on the XOR). For 3-slot buckets the fourth byte belongs to the next bucket,
    /// which can only add a false positive, never hide a key.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool MayHold(uint b, byte tag)
    {
        uint x = Unsafe.ReadUnaligned<uint>(_tags + (nuint)b * (nuint)Slots) ^ (tag * 0x01010101u);
        return ((x - 0x01010101u) & ~x & 0x80808080u) != 0;
    }

    /// <summary>Position of <paramref name="key"/>, or -1.</summary>
    public int Lookup(in TKey key)
    {
        uint h = HashOf(key);
        byte tag = TagOf(h);
        uint b1 = Primary(h);
        int s;
        if (MayHold(b1, tag) && (s = key.FindIn(Bucket(b1))) >= 0)
        {
            return (int)(b1 * (uint)Slots) + s;
        }

        if (_overflow[b1] == 0)
        {
            return -1;
        }

        uint b2 = Secondary(h, b1);
        if (!MayHold(b2, tag))
        {
            return -1;
        }

        s = key.FindIn(Bucket(b2));
        return s >= 0 ? (int)(b2 * (uint)Slots) + s : -1;
    }

    /// <summary>
    /// Looks up a burst: hashes every key and prefetches its primary bucket (and the overflow byte
    /// and tags a miss there reads), then compares, then prefetches and compares the secondary
    /// buckets of the few that need it. Positions get -1 for a miss. Returns the number of hits. With <paramref name="prefetchEntries"/> (a caller that
    /// applies hits and inserts misses), a last loop requests each hit's entry and each miss's
    /// insert lines (<see cref="PrefetchForInsert"/>), so the caller's reads find them on the way.
    /// </summary>
    /// <remarks>
    /// Those requests go out from a loop of their own, not from the compare loop as each position
    /// becomes known: the compare loop waits on bucket lines, and a request behind a waiting load
    /// can only issue once the reorder buffer reaches it, about a dozen keys ahead at ~35
    /// instructions per key. A loop that only requests keeps many more lines in flight: the fast
    /// path at 1M flows went from 15.2–16.0 to 17.0–18.1 Mpps (pinned, interleaved) with this and
    /// the same split for action records in the pipeline.
    /// </remarks>
    [SkipLocalsInit]
    public int LookupBulk(ReadOnlySpan<TKey> keys, Span<int> positions, bool prefetchEntries = false)
    {
        int n = keys.Length;
        if (n > 256 || positions.Length < n)
        {
            return LookupBulkSlow(keys, positions);
        }

        Span<uint> hashes = stackalloc uint[n];
        Span<uint> primaries = stackalloc uint[n];
        for (int i = 0; i < n; i++)
        {
            uint h = HashOf(keys[i]);
            uint b = Primary(h);
            hashes[i] = h;
            primaries[i] = b;
            Prefetch(Bucket(b), BucketBytes);
            // And what the compare loop reads when the key is not in its primary: the overflow
            // byte and the secondary's tags (plus the primary's tags for two-line buckets, checked
            // before comparing). Read there on demand, each one that missed stalled the loop; at
            // 4M flows the arrays are megabytes (4M flows, pinned interleaved: hits 16-B keys
            // 21-24 -> 17.2-17.6 ns, 40-B 30-34 -> 25; misses 18-19 -> 13; the fast path at 1M
            // flows 15.6-17.3 -> 18.2-19.4 Mpps, a flow in its secondary bucket included).
            CacheHint.Prefetch(_overflow + b);
            CacheHint.Prefetch(_tags + (nuint)Secondary(h, b) * (nuint)Slots);
            if (TKey.BucketBytes > 64)
            {
                CacheHint.Prefetch(_tags + (nuint)b * (nuint)Slots);
            }
        }

        int hits = 0;
        int pending = 0;
        Span<int> second = stackalloc int[n];
        for (int i = 0; i < n; i++)
        {
            uint b = primaries[i];
            // One-line buckets (IPv4) are compared outright: the line is already on its way and
            // most hits are there. Two-line buckets (IPv6) cost more to compare than the tag check
            // that skips most misses. Either way the tags decide whether a miss must fetch the
            // secondary bucket. TKey.BucketBytes is a constant per instantiation: no branch left.
            int s = TKey.BucketBytes > 64 && !MayHold(b, TagOf(hashes[i])) ? -1 : keys[i].FindIn(Bucket(b));
            if (s >= 0)
            {
                int position = (int)(b * (uint)Slots) + s;
                positions[i] = position;
                hits++;
                continue;
            }

            positions[i] = -1;
            if (_overflow[b] != 0)
            {
                uint b2 = Secondary(hashes[i], b);
                if (MayHold(b2, TagOf(hashes[i])))
                {
                    primaries[i] = b2;
                    Prefetch(Bucket(b2), BucketBytes);
                    second[pending++] = i;
                }
            }
        }

        for (int k = 0; k < pending; k++)
        {
            int i = second[k];
            uint b = primaries[i];
            int s = keys[i].FindIn(Bucket(b));
            positions[i] = s >= 0 ? (int)(b * (uint)Slots) + s : -1;
            hits += s >= 0 ? 1 : 0;
        }

        if (prefetchEntries)
        {
            RequestEntries(hashes, positions[..n]);
        }

        return hits;
    }

    /// <summary>
    /// For a caller that applies hits and creates flows for misses: each hit's entry, and for each
    /// miss what its insert will touch in its primary bucket (see <see cref="PrefetchForInsert"/>).
    /// </summary>
    private void RequestEntries(ReadOnlySpan<uint> hashes, ReadOnlySpan<int> positions)
    {
        for (int i = 0; i < positions.Length; i++)
        {
            int position = positions[i];
            if (position >= 0)
            {
                CacheHint.Prefetch(_entries + position);
            }
            else
            {
                PrefetchForInsert(Primary(hashes[i]));
            }
        }
    }

    // The insert's lines: the bucket's sequence number, its tags and its entries' lines, so the
    // re-check, the locked version bump and the entry write in Insert find them in cache instead
    // of stalling on each in turn.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PrefetchForInsert(uint b)
    {
        CacheHint.Prefetch(_versions + b);
        CacheHint.Prefetch(_tags + (nuint)b * (nuint)Slots);
        FlowEntry* e = _entries + (nuint)b * (nuint)Slots;
        CacheHint.Prefetch(e);
        CacheHint.Prefetch((byte*)e + (sizeof(FlowEntry) * Slots) - 1);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int LookupBulkSlow(ReadOnlySpan<TKey> keys, Span<int> positions)
    {
        int hits = 0;
        for (int i = 0; i < keys.Length; i++)
        {
            positions[i] = Lookup(keys[i]);
            hits += positions[i] >= 0 ? 1 : 0;
        }

        return hits;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(byte* p, int bytes)
    {
        CacheHint.Prefetch(p);
        if (bytes > 64)
        {
            CacheHint.Prefetch(p + 64);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        LargePages.Free(_buckets);
        LargePages.Free(_entries);
        NativeMemory.AlignedFree(_overflow);
        LargePages.Free(_tags);
        NativeMemory.AlignedFree(_versions);
        FreeAging();
        GC.SuppressFinalize(this);
    }

    ~FlowTable()
    {
        Dispose();
    }
}

/// <summary>Flow table event counters, written by the owning worker only.</summary>
public sealed class FlowTableCounters
{
    public long Created;
    public long Deleted;
    public long InsertFailedFull;
    /// <summary>Flows moved to their other bucket to make room for an insert.</summary>
    public long Relocated;
    public long[] Aged { get; } = new long[(int)FlowClass.Count];

    public long TotalAged => Aged.Sum();
}
