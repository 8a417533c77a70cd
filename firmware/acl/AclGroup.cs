using SnicRuntime.Contracts.Plans;
using System.Numerics;
using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Routing;

namespace SnicRuntime.Firmware.Acl;

/// <summary>
/// A compiled ACL group: finds the highest-priority matching rule without scanning the rules.
/// </summary>
/// <remarks>
/// Decomposition by field, Lakshman and Stiliadis' bit-vector scheme (SIGCOMM 1998):
/// <list type="number">
/// <item>Each address field (source, destination) is cut into elementary intervals by every
/// prefix of every rule (<see cref="IntervalMap{T}"/>). An interval's <em>class</em> is the set
/// of rules that have a prefix covering it (the rules of its longest covering prefix plus those of
/// every shorter prefix around it, plus the rules with no prefix for the field), kept as a bit
/// row of one bit per rule: 128 bytes for a 1000-rule group.</item>
/// <item>A lookup finds the two rows (two short range searches), ANDs them word by word and takes
/// the lowest set bit whose rule's protocol and ports also match. Rule indices are in priority
/// order, so the first such rule is the answer.</item>
/// </list>
/// The cost is two interval searches, two rows read and a handful of candidate checks, whatever
/// the number of rules; memory is a row per distinct prefix per field.
/// </remarks>
public sealed class AclGroup<T> where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
{
    private readonly AclRule<T>[] _rules;
    private readonly Field _source;
    private readonly Field _destination;
    private readonly PortField _sourcePorts;
    private readonly PortField _destinationPorts;
    private readonly ulong[] _protocolRows; // one row per protocol number
    private readonly int _words;

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
        _sourcePorts = PortField.Build(_rules, r => r.SourcePorts);
        _destinationPorts = PortField.Build(_rules, r => r.DestinationPorts);
        _words = Math.Max(1, (_rules.Length + 63) / 64);
        _protocolRows = new ulong[256 * _words];
        for (int i = 0; i < _rules.Length; i++)
        {
            ulong bit = 1UL << (i & 63);
            if (_rules[i].Protocols.Count == 0)
            {
                for (int p = 0; p < 256; p++)
                {
                    _protocolRows[p * _words + (i >> 6)] |= bit;
                }
            }

            foreach (byte p in _rules[i].Protocols)
            {
                _protocolRows[p * _words + (i >> 6)] |= bit;
            }
        }
    }

    public string Name { get; }

    public int RuleCount => _rules.Length;

    public IReadOnlyList<AclRule<T>> Rules => _rules;

    public long TotalBytes => _source.TotalBytes + _destination.TotalBytes + _sourcePorts.TotalBytes + _destinationPorts.TotalBytes + _protocolRows.Length * 8L;

    /// <summary>Index (in priority order) of the first matching rule, or -1 when none matches.</summary>
    public int Classify(T src, T dst, byte protocol, ushort srcPort, ushort dstPort)
    {
        ReadOnlySpan<ulong> a = _source.RowOf(src);
        ReadOnlySpan<ulong> b = _destination.RowOf(dst);
        ReadOnlySpan<ulong> c = _sourcePorts.RowOf(srcPort);
        ReadOnlySpan<ulong> d = _destinationPorts.RowOf(dstPort);
        ReadOnlySpan<ulong> p = new(_protocolRows, protocol * _words, _words);
        for (int w = 0; w < a.Length; w++)
        {
            // Rules matching every field; the lowest index is the highest priority.
            ulong m = a[w] & b[w] & c[w] & d[w] & p[w];
            if (m != 0)
            {
                return w * 64 + System.Numerics.BitOperations.TrailingZeroCount(m);
            }
        }

        return -1;
    }

    /// <summary>
    /// Requests the first lines <see cref="ClassifyBulk"/> will read for this packet (each address
    /// field's interval index), so a caller that knows a later stage's groups can overlap them
    /// with the current stage's work.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(T src, T dst)
    {
        _source.Map.PrefetchIndex(src);
        _destination.Map.PrefetchIndex(dst);
    }

    /// <summary>
    /// Classifies a burst (at most 64 packets): like <see cref="Classify"/> for each, with the
    /// memory accesses of the whole burst issued pass by pass (index, window, row) so their misses
    /// overlap, as rte_acl_classify does over its burst.
    /// </summary>
    [SkipLocalsInit]
    public void ClassifyBulk(ReadOnlySpan<T> src, ReadOnlySpan<T> dst, ReadOnlySpan<byte> protocol, ReadOnlySpan<ushort> srcPort,
        ReadOnlySpan<ushort> dstPort, Span<int> results)
    {
        int n = src.Length;
        if (n > 64 || dst.Length < n || protocol.Length < n || srcPort.Length < n || dstPort.Length < n || results.Length < n)
        {
            throw new ArgumentException("a burst is at most 64 packets, with every field given for each");
        }

        Span<int> srcLo = stackalloc int[n], srcHi = stackalloc int[n], dstLo = stackalloc int[n], dstHi = stackalloc int[n];
        for (int i = 0; i < n; i++)
        {
            _source.Map.PrefetchIndex(src[i]);
            _destination.Map.PrefetchIndex(dst[i]);
        }

        for (int i = 0; i < n; i++)
        {
            (srcLo[i], srcHi[i]) = _source.Map.Window(src[i]);
            (dstLo[i], dstHi[i]) = _destination.Map.Window(dst[i]);
        }

        Span<int> srcRow = stackalloc int[n], dstRow = stackalloc int[n];
        for (int i = 0; i < n; i++)
        {
            srcRow[i] = _source.PrefetchRow(_source.Map.Search(src[i], srcLo[i], srcHi[i]));
            dstRow[i] = _destination.PrefetchRow(_destination.Map.Search(dst[i], dstLo[i], dstHi[i]));
        }

        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<ulong> a = _source.Row(srcRow[i]);
            ReadOnlySpan<ulong> b = _destination.Row(dstRow[i]);
            ReadOnlySpan<ulong> c = _sourcePorts.RowOf(srcPort[i]);
            ReadOnlySpan<ulong> d = _destinationPorts.RowOf(dstPort[i]);
            ReadOnlySpan<ulong> p = new(_protocolRows, protocol[i] * _words, _words);
            int result = -1;
            for (int w = 0; w < a.Length; w++)
            {
                ulong m = a[w] & b[w] & c[w] & d[w] & p[w];
                if (m != 0)
                {
                    result = w * 64 + System.Numerics.BitOperations.TrailingZeroCount(m);
                    break;
                }
            }

            results[i] = result;
        }
    }

    public AclRule<T> RuleAt(int index) => _rules[index];

    /// <summary>
    /// One address field: interval search to a class, and per class a bit row of the rules that
    /// cover it (the "any" rules are set in every row; row 0 is for addresses no prefix covers).
    /// </summary>
    private sealed class Field
    {
        private readonly IntervalMap<T> _map;
        private readonly ulong[] _rows;
        private readonly int _words;

        private Field(IntervalMap<T> map, ulong[] rows, int words)
        {
            _map = map;
            _rows = rows;
            _words = words;
        }

        public long TotalBytes => _map.TotalBytes + _rows.Length * 8L;

        public IntervalMap<T> Map => _map;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ReadOnlySpan<ulong> RowOf(T address) => new(_rows, (_map.Lookup(address) + 1) * _words, _words);

        /// <summary>Requests the row of class <paramref name="mapValue"/> (a map lookup result); returns its offset.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int PrefetchRow(int mapValue)
        {
            int at = (mapValue + 1) * _words;
            Hal.CacheHint.Prefetch(ref _rows[at]);
            if (_words > 8)
            {
                // Rows are not line-aligned (the array's data starts 16 bytes into a line), so a
                // 128-byte row touches three lines: request the one holding its last word too.
                Hal.CacheHint.Prefetch(ref _rows[at + 8]);
                Hal.CacheHint.Prefetch(ref _rows[at + _words - 1]);
            }

            return at;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ReadOnlySpan<ulong> Row(int offset) => new(_rows, offset, _words);

        public static Field Build(AclRule<T>[] rules, Func<AclRule<T>, IReadOnlyList<PrefixRange<T>>> field)
        {
            int words = Math.Max(1, (rules.Length + 63) / 64);
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
                        list.Add(i);
                    }
                }
            }

            // Outer prefixes first; a class row is its own rules OR its parent's row (prefixes
            // nest or are disjoint, so the chain of enclosing prefixes is the whole answer).
            var ranges = byRange.Keys.OrderBy(r => r.First).ThenByDescending(r => r.Last).ToArray();
            var rows = new ulong[(ranges.Length + 1) * words];
            foreach (int r in any)
            {
                rows[r >> 6] |= 1UL << (r & 63);
            }

            var stack = new Stack<int>();
            var mapped = new List<PrefixRange<T>>(ranges.Length);
            for (int k = 0; k < ranges.Length; k++)
            {
                while (stack.Count > 0 && ranges[stack.Peek()].Last < ranges[k].First)
                {
                    stack.Pop();
                }

                int row = (k + 1) * words;
                int parent = stack.Count > 0 ? (stack.Peek() + 1) * words : 0; // row 0: the "any" rules
                Array.Copy(rows, parent, rows, row, words);
                foreach (int r in byRange[ranges[k]])
                {
                    rows[row + (r >> 6)] |= 1UL << (r & 63);
                }

                stack.Push(k);
                mapped.Add(new PrefixRange<T>(ranges[k].First, ranges[k].Last, k));
            }

            return new Field(IntervalMap<T>.Build(mapped), rows, words);
        }
    }

    /// <summary>
    /// A port field: ranges may overlap arbitrarily (they do not nest like prefixes), so rows are
    /// built by a sweep over the range boundaries, keeping each rule's count of open ranges.
    /// </summary>
    private sealed class PortField
    {
        private readonly ushort[] _starts;
        private readonly ulong[] _rows;
        private readonly int _words;

        private PortField(ushort[] starts, ulong[] rows, int words)
        {
            _starts = starts;
            _rows = rows;
            _words = words;
        }

        public long TotalBytes => _starts.Length * 2L + _rows.Length * 8L;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ReadOnlySpan<ulong> RowOf(ushort port)
        {
            // Last interval start ≤ port (starts[0] is 0).
            int lo = 0, hi = _starts.Length - 1;
            while (lo < hi)
            {
                int mid = (lo + hi + 1) >>> 1;
                if (_starts[mid] <= port)
                {
                    lo = mid;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            return new ReadOnlySpan<ulong>(_rows, lo * _words, _words);
        }

        public static PortField Build(AclRule<T>[] rules, Func<AclRule<T>, IReadOnlyList<PortRange>> field)
        {
            int words = Math.Max(1, (rules.Length + 63) / 64);
            var events = new List<(int At, int Rule, int Delta)>();
            for (int i = 0; i < rules.Length; i++)
            {
                IReadOnlyList<PortRange> ranges = field(rules[i]);
                if (ranges.Count == 0)
                {
                    ranges = [new PortRange(0, ushort.MaxValue)];
                }

                foreach (PortRange r in ranges)
                {
                    events.Add((r.First, i, +1));
                    events.Add((r.Last + 1, i, -1));
                }
            }

            events.Sort((x, y) => x.At.CompareTo(y.At));
            var open = new int[rules.Length];
            var current = new ulong[words];
            var starts = new List<ushort>();
            var rows = new List<ulong>();
            int e = 0;
            int at = 0;
            while (at <= ushort.MaxValue)
            {
                while (e < events.Count && events[e].At == at)
                {
                    (_, int rule, int delta) = events[e++];
                    open[rule] += delta;
                    if (open[rule] > 0)
                    {
                        current[rule >> 6] |= 1UL << (rule & 63);
                    }
                    else
                    {
                        current[rule >> 6] &= ~(1UL << (rule & 63));
                    }
                }

                starts.Add((ushort)at);
                rows.AddRange(current);
                at = e < events.Count ? events[e].At : ushort.MaxValue + 1;
            }

            return new PortField([.. starts], [.. rows], words);
        }
    }
}
