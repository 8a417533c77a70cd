using System.Runtime.InteropServices;

namespace SnicRuntime.Firmware.Flows;

/// <summary>Idle timeouts per flow class, in milliseconds.</summary>
public sealed record AgingPolicy
{
    public static AgingPolicy Default { get; } = new();

    public uint TcpHandshakeMs { get; init; } = 5_000;
    public uint TcpEstablishedMs { get; init; } = 300_000;
    public uint TcpClosingMs { get; init; } = 10_000;
    public uint UdpMs { get; init; } = 30_000;
    public uint IcmpMs { get; init; } = 10_000;

    /// <summary>Wheel resolution: flows age within one tick of their timeout.</summary>
    public uint TickMs { get; init; } = 100;

    /// <summary>Wheel slots (a power of two). Timeouts longer than slots × tick just go round again.</summary>
    public int WheelSlots { get; init; } = 4096;
}

/// <summary>Which timeout applies to a flow entry.</summary>
public static class FlowClasses
{
    public static FlowClass Of(in FlowEntry e) => e.Tcp switch
    {
        TcpState.Handshake => FlowClass.TcpHandshake,
        TcpState.Established => FlowClass.TcpEstablished,
        TcpState.Closing => FlowClass.TcpClosing,
        _ => (e.Flags & FlowFlags.Icmp) != 0 ? FlowClass.Icmp : (e.Flags & FlowFlags.Udp) != 0 ? FlowClass.Udp : FlowClass.Other,
    };
}

public sealed unsafe partial class FlowTable<TKey>
{
    private const uint Nil = uint.MaxValue;
    // A TimerPrev with this bit set means "head of wheel slot (value & ~bit)".
    private const uint HeadBit = 0x80000000;

    private uint* _wheel;
    private uint _wheelMask;
    private AgingPolicy _aging = AgingPolicy.Default;
    private ulong _lastTick;
    private ulong _clockMs;

    /// <summary>False on an HA standby: aging is decided by the active side only.</summary>
    public bool AgingEnabled { get; set; } = true;

    public AgingPolicy Aging => _aging;

    private void InitAging(AgingPolicy policy, uint startMs)
    {
        _clockMs = startMs;
        _lastTick = startMs / Math.Max(1u, policy.TickMs);
        if (policy.WheelSlots < 2 || (policy.WheelSlots & (policy.WheelSlots - 1)) != 0 || policy.TickMs == 0)
        {
            throw new ArgumentException("aging: wheel slots must be a power of two ≥ 2 and the tick > 0 ms", nameof(policy));
        }

        _aging = policy;
        _wheelMask = (uint)policy.WheelSlots - 1;
        _wheel = (uint*)NativeMemory.AlignedAlloc((nuint)policy.WheelSlots * sizeof(uint), 64);
        new Span<uint>(_wheel, policy.WheelSlots).Fill(Nil);
    }

    private void FreeAging() => NativeMemory.AlignedFree(_wheel);

    private uint TimeoutOf(in FlowEntry e) => FlowClasses.Of(in e) switch
    {
        FlowClass.TcpHandshake => _aging.TcpHandshakeMs,
        FlowClass.TcpEstablished => _aging.TcpEstablishedMs,
        FlowClass.TcpClosing => _aging.TcpClosingMs,
        FlowClass.Icmp => _aging.IcmpMs,
        _ => _aging.UdpMs,
    };

    /// <summary>
    /// Extends a 32-bit millisecond timestamp to the table's 64-bit clock (the clock only moves
    /// forward; a timestamp slightly behind it is taken as "now").
    /// </summary>
    private ulong Clock(uint nowMs)
    {
        int ahead = (int)(nowMs - (uint)_clockMs);
        if (ahead > 0)
        {
            _clockMs += (ulong)ahead;
        }

        return _clockMs;
    }

    /// <summary>
    /// Puts a flow in the wheel slot of the first tick at or after its expiry (rounding up, so a
    /// flow is never visited before the tick it can expire in, and a rescheduled flow always lands
    /// in a future tick).
    /// </summary>
    private void Schedule(int position, ulong expiryMs)
    {
        uint slot = (uint)((expiryMs + _aging.TickMs - 1) / _aging.TickMs) & _wheelMask;
        ref FlowEntry e = ref _entries[position];
        uint head = _wheel[slot];
        e.TimerNext = head;
        e.TimerPrev = HeadBit | slot;
        if (head != Nil)
        {
            _entries[head].TimerPrev = (uint)position;
        }

        _wheel[slot] = (uint)position;
    }

    private void Unlink(int position)
    {
        ref FlowEntry e = ref _entries[position];
        uint prev = e.TimerPrev;
        uint next = e.TimerNext;
        if ((prev & HeadBit) != 0)
        {
            _wheel[prev & ~HeadBit] = next;
        }
        else
        {
            _entries[prev].TimerNext = next;
        }

        if (next != Nil)
        {
            _entries[next].TimerPrev = prev;
        }

        e.TimerPrev = Nil;
        e.TimerNext = Nil;
    }

    /// <summary>
    /// Advances the aging wheel to <paramref name="nowMs"/>: each elapsed tick visits one slot; a
    /// flow idle past its timeout is deleted and counted, a flow seen since is rescheduled at its
    /// new expiry. Cost per tick is the flows in that slot (amortised O(1) per flow per timeout).
    /// Returns flows aged.
    /// </summary>
    public int AdvanceAging(uint nowMs)
    {
        ulong now = Clock(nowMs);
        ulong tick = now / _aging.TickMs;
        if (!AgingEnabled || tick <= _lastTick)
        {
            return 0;
        }

        // Beyond one revolution every slot has been visited once; more laps find nothing new.
        ulong from = Math.Max(_lastTick + 1, tick > _wheelMask ? tick - _wheelMask : 0);
        int aged = 0;
        for (ulong t = from; t <= tick; t++)
        {
            uint slot = (uint)t & _wheelMask;
            uint pos = _wheel[slot];
            _wheel[slot] = Nil;
            while (pos != Nil)
            {
                ref FlowEntry e = ref _entries[pos];
                uint next = e.TimerNext;
                e.TimerPrev = Nil;
                e.TimerNext = Nil;
                uint timeout = TimeoutOf(in e);
                int idle = Math.Max(0, (int)(nowMs - e.LastSeenMs));
                if ((uint)idle >= timeout && (Hooks is null || Hooks.Aging(*KeyPointer((int)pos), in e)))
                {
                    Counters.Aged[(int)FlowClasses.Of(in e)]++;
                    RemoveDetached((int)pos);
                    aged++;
                }
                else
                {
                    // Seen since (or kept by a hook: an HA standby does not age on its own).
                    Schedule((int)pos, now + ((uint)idle >= timeout ? timeout : timeout - (uint)idle));
                }

                pos = next;
            }
        }

        _lastTick = tick;
        return aged;
    }

    // The slot's chain was detached from the wheel before the walk and each entry's links cleared,
    // so an expired entry is removed without unlinking.
    private void RemoveDetached(int position)
    {
        uint b = (uint)(position / Slots);
        TKey* k = KeyPointer(position);
        uint primary = Primary(HashOf(*k));
        if (primary != b && _overflow[primary] != byte.MaxValue)
        {
            _overflow[primary]--;
        }

        BeginWrite(b);
        *k = TKey.Empty;
        _tags[position] = 0;
        _entries[position] = default;
        EndWrite(b);
        Count--;
    }
}
