using System.Numerics;
using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Routing;

namespace SnicRuntime.Firmware.Acl;

/// <summary>
/// A compiled ACL group: finds the highest-priority matching rule without scanning the rules.
/// </summary>
/// <remarks>
/// Decomposition by field, in the family of Lakshman and Stiliadis' bit-vector schemes, with
/// sparse lists instead of bit vectors because DASH rules carry many prefixes each:
/// <list type="number">
/// <item>Each address field (source, destination) is cut into elementary intervals by every
/// prefix of every rule (<see cref="IntervalMap{T}"/>). An interval's <em>class</em> is the sorted
/// list of rules that have a prefix covering it: the rules of its longest covering prefix plus
/// those of every shorter prefix around it (prefixes nest or are disjoint, so that chain is the
/// whole answer).</item>
/// <item>Rules with no prefix for a field ("any") sit in a separate list per field, so they are
/// not copied into every class.</item>
/// <item>A lookup finds the two classes (two short range searches), merges the sorted lists
/// (class ∪ any for each field) and takes the first rule in both whose protocol and ports also
/// match. Rule indices are in priority order, so the first such rule is the answer.</item>
/// </list>
/// The cost is two interval searches plus a merge whose length is the number of rules whose
/// prefixes cover the packet's addresses, not the number of rules in the group.
/// </remarks>
public sealed class AclGroup<T> where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
{
    private readonly AclRule<T>[] _rules;
    private readonly Field _source;
    private readonly Field _destination;
    private readonly bool[] _anyProtocol;
    private readonly ulong[] _protocolBits; // 4 words per rule
    private readonly PortRange[]?[] _sourcePorts;
    private readonly PortRange[]?[] _destinationPorts;

    public AclGroup(string name, IEnumerable<AclRule<T>> rules)
    {
        Name = name;
        _rules = [.. rules.OrderBy(r => r.Priority)];
        for (int i = 1; i < _rules.Length; i++)
        {
            if (_rules[i].Priority == _rules[i - 1].Priority)
            {
                throw new ArgumentException($"ACL group '{name}': priority {_rules[i].Priority} is used twice");
            }
        }

        _source = Field.Build(_rules, r => r.Source);
        _destination = Field.Build(_rules, r => r.Destination);
        _anyProtocol = new bool[_rules.Length];
        _protocolBits = new ulong[_rules.Length * 4];
        _sourcePorts = new PortRange[]?[_rules.Length];
        _destinationPorts = new PortRange[]?[_rules.Length];
        for (int i = 0; i < _rules.Length; i++)
        {
            AclRule<T> r = _rules[i];
            _anyProtocol[i] = r.Protocols.Count == 0;
            foreach (byte p in r.Protocols)
            {
                _protocolBits[i * 4 + (p >> 6)] |= 1UL << (p & 63);
            }

            _sourcePorts[i] = IsAnyPort(r.SourcePorts) ? null : [.. r.SourcePorts];
            _destinationPorts[i] = IsAnyPort(r.DestinationPorts) ? null : [.. r.DestinationPorts];
        }
    }

    public string Name { get; }

    public int RuleCount => _rules.Length;

    public IReadOnlyList<AclRule<T>> Rules => _rules;

    public long TotalBytes => _source.TotalBytes + _destination.TotalBytes + _rules.Length * 48L;

    /// <summary>Index (in priority order) of the first matching rule, or -1 when none matches.</summary>
    public int Classify(T src, T dst, byte protocol, ushort srcPort, ushort dstPort)
    {
        int[] a1 = _source.ClassOf(src), a2 = _source.Any;
        int[] b1 = _destination.ClassOf(dst), b2 = _destination.Any;
        int i1 = 0, i2 = 0, j1 = 0, j2 = 0;
        while (true)
        {
            int ra = Math.Min(At(a1, i1), At(a2, i2));
            int rb = Math.Min(At(b1, j1), At(b2, j2));
            if (ra == int.MaxValue || rb == int.MaxValue)
            {
                return -1;
            }

            if (ra == rb && MatchesRest(ra, protocol, srcPort, dstPort))
            {
                return ra;
            }

            // Advance every cursor sitting on the smaller candidate (both when equal).
            int low = Math.Min(ra, rb);
            if (ra == low)
            {
                i1 += At(a1, i1) == low ? 1 : 0;
                i2 += At(a2, i2) == low ? 1 : 0;
            }

            if (rb == low)
            {
                j1 += At(b1, j1) == low ? 1 : 0;
                j2 += At(b2, j2) == low ? 1 : 0;
            }
        }
    }

    public AclRule<T> RuleAt(int index) => _rules[index];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int At(int[] list, int i) => (uint)i < (uint)list.Length ? list[i] : int.MaxValue;

    private bool MatchesRest(int rule, byte protocol, ushort srcPort, ushort dstPort)
    {
        if (!_anyProtocol[rule] && (_protocolBits[rule * 4 + (protocol >> 6)] & (1UL << (protocol & 63))) == 0)
        {
            return false;
        }

        return InRanges(_sourcePorts[rule], srcPort) && InRanges(_destinationPorts[rule], dstPort);
    }

    private static bool InRanges(PortRange[]? ranges, ushort port)
    {
        if (ranges is null)
        {
            return true;
        }

        foreach (PortRange r in ranges)
        {
            if (port >= r.First && port <= r.Last)
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsAnyPort(IReadOnlyList<PortRange> ranges) =>
        ranges.Count == 0 || ranges.Any(r => r.First == 0 && r.Last == ushort.MaxValue);

    /// <summary>One address field: interval search to a class, the classes' rule lists, the "any" rules.</summary>
    private sealed class Field
    {
        private static readonly int[] s_empty = [];
        private readonly IntervalMap<T> _map;
        private readonly int[][] _classes;

        private Field(IntervalMap<T> map, int[][] classes, int[] any)
        {
            _map = map;
            _classes = classes;
            Any = any;
        }

        public int[] Any { get; }

        public long TotalBytes => _map.TotalBytes + _classes.Sum(c => 16L + c.Length * 4L);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int[] ClassOf(T address)
        {
            int c = _map.Lookup(address);
            return c >= 0 ? _classes[c] : s_empty;
        }

        public static Field Build(AclRule<T>[] rules, Func<AclRule<T>, IReadOnlyList<PrefixRange<T>>> field)
        {
            var any = new List<int>();
            var byRange = new Dictionary<(T First, T Last), List<int>>();
            for (int i = 0; i < rules.Length; i++)
            {
                IReadOnlyList<PrefixRange<T>> prefixes = field(rules[i]);
                if (prefixes.Count == 0 || prefixes.Any(p => p.First == T.Zero && p.Last == T.AllBitsSet))
                {
                    any.Add(i);
                    continue;
                }

                foreach (PrefixRange<T> p in prefixes)
                {
                    if (!byRange.TryGetValue((p.First, p.Last), out List<int>? list))
                    {
                        byRange[(p.First, p.Last)] = list = [];
                    }

                    if (list.Count == 0 || list[^1] != i)
                    {
                        list.Add(i); // rules are visited in order, so each list stays sorted
                    }
                }
            }

            // Outer prefixes first; each class is its own rules merged with its parent's class.
            var ranges = byRange.Keys.OrderBy(r => r.First).ThenByDescending(r => r.Last).ToArray();
            var classes = new int[ranges.Length][];
            var stack = new Stack<int>();
            var mapped = new List<PrefixRange<T>>(ranges.Length);
            for (int k = 0; k < ranges.Length; k++)
            {
                while (stack.Count > 0 && ranges[stack.Peek()].Last < ranges[k].First)
                {
                    stack.Pop();
                }

                int[] own = [.. byRange[ranges[k]]];
                classes[k] = stack.Count > 0 ? MergeSorted(classes[stack.Peek()], own) : own;
                stack.Push(k);
                mapped.Add(new PrefixRange<T>(ranges[k].First, ranges[k].Last, k));
            }

            return new Field(IntervalMap<T>.Build(mapped), classes, [.. any]);
        }

        private static int[] MergeSorted(int[] a, int[] b)
        {
            var result = new List<int>(a.Length + b.Length);
            int i = 0, j = 0;
            while (i < a.Length || j < b.Length)
            {
                int x = i < a.Length ? a[i] : int.MaxValue;
                int y = j < b.Length ? b[j] : int.MaxValue;
                int next = Math.Min(x, y);
                result.Add(next);
                i += x == next ? 1 : 0;
                j += y == next ? 1 : 0;
            }

            return [.. result];
        }
    }
}
