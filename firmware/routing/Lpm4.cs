using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using SnicRuntime.Hal;

namespace SnicRuntime.Firmware.Routing;

/// <summary>
/// IPv4 longest-prefix match, DIR-24-8 (Gupta, Lin, McKeown 1998; DPDK's rte_lpm): a 2^24-entry
/// first table indexed by the top 24 address bits, and 256-entry second-level groups for prefixes
/// longer than /24. A lookup is one read, or two for the few addresses under a /25-/32.
/// </summary>
/// <remarks>
/// Entry layout (32 bits):
/// <code>
///  31     30        29..24   23..0
///  valid  extended  depth    next hop (or, when extended, the tbl8 group index)
/// </code>
/// Every entry remembers the depth of the rule that wrote it, so a shorter rule never overwrites
/// a longer one and a delete can restore what the next-shorter covering rule says. The rule set
/// itself is kept beside the tables (setup-time memory) for deletes and dumps.
/// </remarks>
public sealed unsafe partial class Lpm4 : IDisposable
{
    public const uint MaxNextHop = 0xFFFFFF;
    private const uint Valid = 1u << 31;
    private const uint Extended = 1u << 30;
    private const int DepthShift = 24;
    private const uint PayloadMask = 0xFFFFFF;
    private const int Tbl24Entries = 1 << 24;
    private const int GroupEntries = 256;

    private readonly uint* _tbl24;
    private readonly uint* _tbl8;
    private readonly int _maxGroups;
    private readonly Stack<int> _freeGroups = new();
    private int _groupsUsed;
    private readonly Dictionary<(uint Prefix, byte Depth), uint> _rules = [];
    private bool _disposed;

    /// <param name="maxLongGroups">How many /24 blocks may hold prefixes longer than /24 (256 entries each).</param>
    public Lpm4(int maxLongGroups = 65536)
    {
        if (maxLongGroups is < 1 or > (int)PayloadMask)
        {
            throw new ArgumentOutOfRangeException(nameof(maxLongGroups));
        }

        _maxGroups = maxLongGroups;
        _tbl24 = (uint*)LargePages.Allocate((nuint)Tbl24Entries * sizeof(uint));
        _tbl8 = (uint*)LargePages.Allocate((nuint)maxLongGroups * GroupEntries * sizeof(uint));
    }

    public int RuleCount => _rules.Count;

    /// <summary>Second-level groups holding routes longer than /24 (freed ones are reused).</summary>
    public int GroupsInUse => _groupsUsed - _freeGroups.Count;

    public long TotalBytes => (long)Tbl24Entries * 4 + (long)_maxGroups * GroupEntries * 4;

    /// <summary>Next hop for <paramref name="address"/> (host order), or -1 when no rule covers it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Lookup(uint address)
    {
        uint e = _tbl24[address >> 8];
        if ((e & Extended) != 0)
        {
            e = _tbl8[(nuint)(e & PayloadMask) * GroupEntries + (address & 0xFF)];
        }

        return (e & Valid) != 0 ? e & PayloadMask : -1;
    }

    /// <summary>
    /// Looks up a burst: every first-level line is requested before any is read, then the entries
    /// are read and the rare second-level ones looked up. Writes -1 for no route. Returns the
    /// number found.
    /// </summary>
    public int LookupBulk(ReadOnlySpan<uint> addresses, Span<long> nextHops)
    {
        if (addresses.Length > 256 || nextHops.Length < addresses.Length)
        {
            throw new ArgumentException("a burst is at most 256 addresses and needs as many results");
        }

        // Phase 1: every first-level line requested back to back. Prefetches, not loads: a
        // prefetch retires at once, while a load that misses holds its place in the reorder
        // buffer until the line arrives, so a phase of loads into a stack array (the version
        // before) filled the window with one burst and ran 15-30 % slower (1M routes, pinned
        // interleaved runs: 14.1-17.9 -> 12.0-12.3 ns; rte_lpm 10.6-11.5 beside it).
        for (int i = 0; i < addresses.Length; i++)
        {
            CacheHint.Prefetch(_tbl24 + (addresses[i] >> 8));
        }

        // Phase 2: read each entry (its line is on the way), the rare second-level ones too;
        // eight at a time with one gather where the CPU has one (Lpm4.X64.cs).
        int found = 0;
        int start = 0;
        if (Avx2.IsSupported)
        {
            start = ReadGathered(addresses, nextHops, ref found);
        }

        for (int i = start; i < addresses.Length; i++)
        {
            uint e = _tbl24[addresses[i] >> 8];
            if ((e & Extended) != 0)
            {
                e = _tbl8[(nuint)(e & PayloadMask) * GroupEntries + (addresses[i] & 0xFF)];
            }

            bool valid = (e & Valid) != 0;
            nextHops[i] = valid ? e & PayloadMask : -1;
            found += valid ? 1 : 0;
        }

        return found;
    }

    /// <summary>Adds or replaces a route. Returns false (nothing changed) when the long-prefix groups are exhausted.</summary>
    public bool Add(uint prefix, int depth, uint nextHop)
    {
        CheckRule(depth, nextHop);
        prefix = Mask(prefix, depth);
        if (depth > 24 && (_tbl24[prefix >> 8] & Extended) == 0 && _freeGroups.Count == 0 && _groupsUsed == _maxGroups)
        {
            return false;
        }

        _rules[(prefix, (byte)depth)] = nextHop;
        Write(prefix, depth, Valid | (uint)depth << DepthShift | nextHop, onlyDepth: -1);
        return true;
    }

    /// <summary>Removes a route; what it covered falls back to the next-shorter covering route.</summary>
    public bool Remove(uint prefix, int depth)
    {
        CheckRule(depth, 0);
        prefix = Mask(prefix, depth);
        if (!_rules.Remove((prefix, (byte)depth)))
        {
            return false;
        }

        uint replacement = 0; // invalid
        for (int d = depth - 1; d >= 0; d--)
        {
            if (_rules.TryGetValue((Mask(prefix, d), (byte)d), out uint nh))
            {
                replacement = Valid | (uint)d << DepthShift | nh;
                break;
            }
        }

        Write(prefix, depth, replacement, onlyDepth: depth);
        return true;
    }

    /// <summary>
    /// Writes <paramref name="value"/> over the range of <paramref name="prefix"/>/<paramref name="depth"/>
    /// into entries that hold a rule no longer than <paramref name="depth"/> (add), or exactly
    /// <paramref name="onlyDepth"/> (remove).
    /// </summary>
    private void Write(uint prefix, int depth, uint value, int onlyDepth)
    {
        if (depth <= 24)
        {
            uint first = prefix >> 8;
            uint count = 1u << (24 - depth);
            for (uint i = first; i < first + count; i++)
            {
                uint e = _tbl24[i];
                if ((e & Extended) != 0)
                {
                    uint* group = _tbl8 + (nuint)(e & PayloadMask) * GroupEntries;
                    for (int j = 0; j < GroupEntries; j++)
                    {
                        if (Replaces(group[j], depth, onlyDepth))
                        {
                            group[j] = value;
                        }
                    }

                    if (onlyDepth >= 0)
                    {
                        CollapseIfUniform(i);
                    }
                }
                else if (Replaces(e, depth, onlyDepth))
                {
                    _tbl24[i] = value;
                }
            }

            return;
        }

        uint index = prefix >> 8;
        uint top = _tbl24[index];
        uint* g;
        if ((top & Extended) == 0)
        {
            if (onlyDepth >= 0)
            {
                return; // removing a long rule that was never expanded: nothing written
            }

            int groupIndex = _freeGroups.Count > 0 ? _freeGroups.Pop() : _groupsUsed++;
            g = _tbl8 + (nuint)groupIndex * GroupEntries;
            // The group starts as what the /24 entry said for all 256 addresses.
            new Span<uint>(g, GroupEntries).Fill(top);
            Volatile.Write(ref _tbl24[index], Extended | Valid | (uint)groupIndex);
        }
        else
        {
            g = _tbl8 + (nuint)(top & PayloadMask) * GroupEntries;
        }

        uint low = prefix & 0xFF;
        uint span = 1u << (32 - depth);
        for (uint j = low; j < low + span; j++)
        {
            if (Replaces(g[j], depth, onlyDepth))
            {
                g[j] = value;
            }
        }

        if (onlyDepth >= 0)
        {
            CollapseIfUniform(index);
        }
    }

    /// <summary>
    /// After a remove: a group whose 256 entries all came from one rule of /24 or shorter (or are
    /// all empty) says nothing the first-level entry cannot, so the entry takes that value again
    /// and the group goes back to the free list. Single writer, as everywhere in this class;
    /// a reader that loaded the extended entry just before finishes on the old group, which is
    /// only overwritten when a later add reuses it (DPDK's rte_lpm has the same window and offers
    /// RCU to close it; the pipeline's route tables are immutable and do not use this class).
    /// </summary>
    private void CollapseIfUniform(uint index)
    {
        uint top = _tbl24[index];
        if ((top & Extended) == 0)
        {
            return;
        }

        int groupIndex = (int)(top & PayloadMask);
        uint* g = _tbl8 + (nuint)groupIndex * GroupEntries;
        uint first = g[0];
        if ((first & Valid) != 0 && (int)((first >> DepthShift) & 0x3F) > 24)
        {
            return;
        }

        for (int j = 1; j < GroupEntries; j++)
        {
            if (g[j] != first)
            {
                return;
            }
        }

        Volatile.Write(ref _tbl24[index], first);
        _freeGroups.Push(groupIndex);
    }

    private static bool Replaces(uint entry, int depth, int onlyDepth) =>
        onlyDepth >= 0
            ? (entry & Valid) != 0 && (int)((entry >> DepthShift) & 0x3F) == onlyDepth
            : (entry & Valid) == 0 || (int)((entry >> DepthShift) & 0x3F) <= depth;

    private static uint Mask(uint prefix, int depth) => depth == 0 ? 0 : prefix & (uint.MaxValue << (32 - depth));

    private static void CheckRule(int depth, uint nextHop)
    {
        if (depth is < 0 or > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(depth), depth, "IPv4 prefix length must be 0..32");
        }

        if (nextHop > MaxNextHop)
        {
            throw new ArgumentOutOfRangeException(nameof(nextHop), nextHop, "next hop ids are 24-bit");
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        LargePages.Free(_tbl24);
        LargePages.Free(_tbl8);
        GC.SuppressFinalize(this);
    }

    ~Lpm4()
    {
        Dispose();
    }
}
