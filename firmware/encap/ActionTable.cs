using System.Runtime.CompilerServices;
using SnicRuntime.Hal;

namespace SnicRuntime.Firmware.Encap;

/// <summary>
/// A generation's compiled actions in native memory backed by 2 MiB pages where Linux gives them
/// (<see cref="LargePages"/>). With a million mappings the fast path reads one 16-byte record at
/// random per packet; on a GC array of 4 KiB pages each of those reads also missed the TLB, and
/// the page walk stalled even the prefetch that was meant to hide the read (measured: the
/// prefetch instruction was the hottest one in the hit loop at 10K flows).
/// </summary>
/// <remarks>
/// Immutable after construction, like the rest of the policy generation that holds it. The memory is freed
/// by the finalizer, so it lives exactly as long as someone can still reach the table: a worker
/// holds its generation in a field for the whole burst, and the indexer returns a copy, never a
/// reference into memory the finalizer could free.
/// </remarks>
public sealed unsafe class ActionTable
{
    private readonly TunnelAction* _items;

    public ActionTable(ReadOnlySpan<TunnelAction> actions)
    {
        Length = actions.Length;
        _items = (TunnelAction*)LargePages.Allocate((nuint)Math.Max(1, actions.Length) * (nuint)sizeof(TunnelAction));
        actions.CopyTo(new Span<TunnelAction>(_items, actions.Length));
    }

    public int Length { get; }

    public TunnelAction this[int index] => this[(uint)index];

    public TunnelAction this[uint index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if (index >= (uint)Length)
            {
                ThrowOutOfRange(index);
            }

            TunnelAction a = _items[index];
            GC.KeepAlive(this);
            return a;
        }
    }

    /// <summary>Asks for record <paramref name="index"/>'s line; out-of-range indices are ignored (a hint, never a fault).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(uint index)
    {
        if (index < (uint)Length)
        {
            CacheHint.Prefetch(_items + index);
        }
    }

    private static void ThrowOutOfRange(uint index) =>
        throw new IndexOutOfRangeException($"action {index} is outside the generation's action table");

    ~ActionTable() => LargePages.Free(_items);
}
