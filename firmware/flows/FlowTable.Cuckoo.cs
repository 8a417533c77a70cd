namespace SnicRuntime.Firmware.Flows;

public sealed unsafe partial class FlowTable<TKey>
{
    // Breadth-first search budget when both candidate buckets are full (libcuckoo's approach):
    // enough to reach ~95 % fill, small enough that a worst-case insert stays in microseconds.
    private const int MaxSearchNodes = 512;

    private struct SearchNode
    {
        public uint Bucket;
        public int Parent;
        public int ParentSlot;
    }

    private readonly SearchNode[] _search = new SearchNode[MaxSearchNodes];

    /// <summary>
    /// Frees a slot in <paramref name="b1"/> or <paramref name="b2"/> by moving resident keys to
    /// their other bucket along the shortest chain found. Returns the freed position, or -1.
    /// Only inserts into full bucket pairs pay for this; lookups never move anything.
    /// </summary>
    private int MakeRoom(uint b1, uint b2)
    {
        TKey empty = TKey.Empty;
        int tail = 0;
        _search[tail++] = new SearchNode { Bucket = b1, Parent = -1, ParentSlot = -1 };
        _search[tail++] = new SearchNode { Bucket = b2, Parent = -1, ParentSlot = -1 };
        for (int head = 0; head < tail; head++)
        {
            uint bucket = _search[head].Bucket;
            for (int s = 0; s < Slots; s++)
            {
                uint alt = AlternateOf(bucket, s);
                int free = empty.FindIn(Bucket(alt));
                if (free >= 0)
                {
                    // Found: shift keys one hop each, from the end of the chain back to its root.
                    Move((int)(bucket * (uint)Slots) + s, (int)(alt * (uint)Slots) + free);
                    int node = head;
                    int freedSlot = s;
                    while (_search[node].Parent >= 0)
                    {
                        SearchNode n = _search[node];
                        uint parentBucket = _search[n.Parent].Bucket;
                        Move((int)(parentBucket * (uint)Slots) + n.ParentSlot, (int)(n.Bucket * (uint)Slots) + freedSlot);
                        freedSlot = n.ParentSlot;
                        node = n.Parent;
                    }

                    return (int)(_search[node].Bucket * (uint)Slots) + freedSlot;
                }

                if (tail < MaxSearchNodes)
                {
                    _search[tail++] = new SearchNode { Bucket = alt, Parent = head, ParentSlot = s };
                }
            }
        }

        return -1;
    }

    /// <summary>The other candidate bucket of the key in slot <paramref name="slot"/> of <paramref name="bucket"/>.</summary>
    private uint AlternateOf(uint bucket, int slot)
    {
        uint h = HashOf(*(TKey*)(Bucket(bucket) + slot * sizeof(TKey)));
        uint p = Primary(h);
        return bucket == p ? Secondary(h, p) : p;
    }

    /// <summary>
    /// Moves a flow to an empty slot: key, entry, aging-wheel links and overflow counts. The new
    /// copy is published before the old is cleared, so a concurrent reader may see the flow twice
    /// during a move, never torn.
    /// </summary>
    private void Move(int from, int to)
    {
        uint fromBucket = (uint)(from / Slots);
        uint toBucket = (uint)(to / Slots);
        TKey* fromKey = KeyPointer(from);
        uint primary = Primary(HashOf(*fromKey));

        BeginWrite(toBucket);
        *KeyPointer(to) = *fromKey;
        _tags[to] = _tags[from];
        _entries[to] = _entries[from];
        EndWrite(toBucket);

        ref FlowEntry e = ref _entries[to];
        if ((e.TimerPrev & HeadBit) != 0)
        {
            _wheel[e.TimerPrev & ~HeadBit] = (uint)to;
        }
        else if (e.TimerPrev != Nil)
        {
            _entries[e.TimerPrev].TimerNext = (uint)to;
        }

        if (e.TimerNext != Nil)
        {
            _entries[e.TimerNext].TimerPrev = (uint)to;
        }

        BeginWrite(fromBucket);
        *fromKey = TKey.Empty;
        _tags[from] = 0;
        _entries[from] = default;
        EndWrite(fromBucket);

        if (fromBucket == primary && toBucket != primary)
        {
            if (_overflow[primary] != byte.MaxValue)
            {
                _overflow[primary]++;
            }
        }
        else if (fromBucket != primary && toBucket == primary && _overflow[primary] != byte.MaxValue)
        {
            _overflow[primary]--;
        }

        Counters.Relocated++;
    }
}
