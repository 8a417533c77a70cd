using System.Runtime.CompilerServices;

namespace SnicRuntime.Firmware.Routing;

/// <summary>
/// IPv6 longest-prefix match as a multibit trie with a 16-bit first stride and 8-bit strides
/// below (the shape of DPDK's rte_lpm6: a wide first table, then 256-entry groups). Built once
/// from a route set and immutable afterwards, so workers share it without locks.
/// </summary>
/// <remarks>
/// Entry (32 bits): 0 = no route; bit 31 set = index of a child node; otherwise value + 1.
/// Routes are inserted shortest first, so a route only ever overwrites entries of shorter
/// routes and a new child node starts as a copy of the entry it replaces (leaf pushing). A
/// lookup is one first-level read plus one read per further 8 bits of the matching prefix:
/// a /48 costs 5 reads, a /64 costs 7.
/// </remarks>
public sealed class Lpm6
{
    public const int MaxValue = int.MaxValue - 1;
    private const uint Child = 1u << 31;
    private const int RootBits = 16;
    private const int NodeEntries = 256;

    private readonly uint[] _root = new uint[1 << RootBits];
    private uint[] _nodes = new uint[NodeEntries * 16];
    private int _nodeCount;

    private Lpm6()
    {
    }

    public int NodeCount => _nodeCount;

    public long TotalBytes => (_root.Length + (long)_nodeCount * NodeEntries) * 4;

    /// <summary>Builds the trie; a later duplicate of a prefix replaces the earlier one.</summary>
    public static Lpm6 Build(IEnumerable<(UInt128 Prefix, int Length, int Value)> routes)
    {
        var list = new List<(UInt128 Prefix, int Length, int Value)>(routes);
        // Stable: equal lengths keep input order, so the later duplicate is written last.
        var sorted = list.Select((r, i) => (r, i)).OrderBy(x => x.r.Length).ThenBy(x => x.i).Select(x => x.r);
        var lpm = new Lpm6();
        foreach (var (prefix, length, value) in sorted)
        {
            if ((uint)length > 128)
            {
                throw new ArgumentOutOfRangeException(nameof(routes), length, "IPv6 prefix length must be 0..128");
            }

            if ((uint)value > MaxValue)
            {
                throw new ArgumentOutOfRangeException(nameof(routes), value, "route value out of range");
            }

            lpm.Insert(Mask(prefix, length), length, (uint)value + 1);
        }

        return lpm;
    }

    /// <summary>The value of the longest prefix covering <paramref name="address"/>, or -1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Lookup(UInt128 address)
    {
        uint e = _root[(int)(address >> (128 - RootBits))];
        int shift = 128 - RootBits - 8;
        uint[] nodes = _nodes;
        while ((e & Child) != 0)
        {
            e = nodes[(int)(e & ~Child) * NodeEntries + (int)((ulong)(address >> shift) & 0xFF)];
            shift -= 8;
        }

        return (int)e - 1;
    }

    /// <summary>
    /// Looks up a burst level by level: every key's read at one trie level is issued before any
    /// key goes a level deeper, so a burst's misses overlap (the trie walk of one key is a chain
    /// of dependent reads; a burst has 32 independent chains). Writes -1 for no route.
    /// </summary>
    [SkipLocalsInit]
    public void LookupBulk(ReadOnlySpan<UInt128> addresses, Span<int> values)
    {
        int n = addresses.Length;
        if (n > 64 || values.Length < n)
        {
            throw new ArgumentException("a burst is at most 64 addresses and needs as many results");
        }

        Span<uint> e = stackalloc uint[n];
        int pending = 0;
        for (int i = 0; i < n; i++)
        {
            e[i] = _root[(int)(addresses[i] >> (128 - RootBits))];
            pending |= (int)(e[i] >> 31);
        }

        uint[] nodes = _nodes;
        for (int shift = 128 - RootBits - 8; pending != 0; shift -= 8)
        {
            pending = 0;
            for (int i = 0; i < n; i++)
            {
                uint x = e[i];
                if ((x & Child) != 0)
                {
                    x = nodes[(int)(x & ~Child) * NodeEntries + (int)((ulong)(addresses[i] >> shift) & 0xFF)];
                    e[i] = x;
                    pending |= (int)(x >> 31);
                }
            }
        }

        for (int i = 0; i < n; i++)
        {
            values[i] = (int)e[i] - 1;
        }
    }

    private static UInt128 Mask(UInt128 prefix, int length) =>
        length == 0 ? UInt128.Zero : prefix & (UInt128.MaxValue << (128 - length));

    private void Insert(UInt128 prefix, int length, uint entry)
    {
        int rootIndex = (int)(prefix >> (128 - RootBits));
        if (length <= RootBits)
        {
            _root.AsSpan(rootIndex, 1 << (RootBits - length)).Fill(entry);
            return;
        }

        // The slot being descended through, as an index (-1 - i for root entry i) rather than a
        // ref: growing the node array would leave a ref pointing into the old one.
        int slot = -1 - rootIndex;
        int consumed = RootBits;
        while (true)
        {
            int node = ChildOf(slot);
            int index = (int)((ulong)(prefix >> (128 - consumed - 8)) & 0xFF);
            if (length <= consumed + 8)
            {
                _nodes.AsSpan(node * NodeEntries + index, 1 << (consumed + 8 - length)).Fill(entry);
                return;
            }

            slot = node * NodeEntries + index;
            consumed += 8;
        }
    }

    /// <summary>The node under <paramref name="slot"/>, made (as a copy of the slot's value) if absent.</summary>
    private int ChildOf(int slot)
    {
        uint value = slot < 0 ? _root[-1 - slot] : _nodes[slot];
        if ((value & Child) != 0)
        {
            return (int)(value & ~Child);
        }

        if ((_nodeCount + 1) * NodeEntries > _nodes.Length)
        {
            Array.Resize(ref _nodes, _nodes.Length * 2);
        }

        int fresh = _nodeCount++;
        _nodes.AsSpan(fresh * NodeEntries, NodeEntries).Fill(value);
        if (slot < 0)
        {
            _root[-1 - slot] = Child | (uint)fresh;
        }
        else
        {
            _nodes[slot] = Child | (uint)fresh;
        }

        return fresh;
    }
}
