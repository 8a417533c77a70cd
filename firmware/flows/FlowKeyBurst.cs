using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Parsing;

namespace SnicRuntime.Firmware.Flows;

/// <summary>
/// A burst's flow keys split by family, with each key's packet index, direction and (after the
/// bulk lookup) table position: what every flow-keyed stage builds before looking up. Arrays are
/// made once per worker; <see cref="Add"/> is the per-packet step.
/// </summary>
public sealed class FlowKeyBurst(int burst)
{
    public readonly FlowKeyV4[] Keys4 = new FlowKeyV4[burst];
    public readonly FlowKeyV6[] Keys6 = new FlowKeyV6[burst];
    public readonly int[] Index4 = new int[burst];
    public readonly int[] Index6 = new int[burst];
    public readonly bool[] Forward4 = new bool[burst];
    public readonly bool[] Forward6 = new bool[burst];
    public readonly int[] Positions4 = new int[burst];
    public readonly int[] Positions6 = new int[burst];
    public int Count4;
    public int Count6;

    public void Clear()
    {
        Count4 = 0;
        Count6 = 0;
    }

    /// <summary>Adds packet <paramref name="i"/>'s innermost 5-tuple under <paramref name="scope"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(int i, ReadOnlySpan<byte> frame, in ParsedPacket p, uint scope)
    {
        int l3 = p.L3;
        if (p.IsIpv6)
        {
            Keys6[Count6] = FlowKeyV6.Create(scope, frame.Slice(l3 + 8, 16), frame.Slice(l3 + 24, 16), p.SrcPort, p.DstPort, p.L4Protocol, out Forward6[Count6]);
            Index6[Count6++] = i;
        }
        else
        {
            AddV4(i, BinaryPrimitives.ReadUInt32BigEndian(frame[(l3 + 12)..]), BinaryPrimitives.ReadUInt32BigEndian(frame[(l3 + 16)..]), in p, scope);
        }
    }

    /// <summary>Adds packet <paramref name="i"/>'s IPv4 5-tuple, its addresses already read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddV4(int i, uint src, uint dst, in ParsedPacket p, uint scope)
    {
        // The direction goes through a local: an out straight into the array made the JIT
        // store it and read it back while building the key.
        int k = Count4++;
        Keys4[k] = FlowKeyV4.Create(scope, src, dst, p.SrcPort, p.DstPort, p.L4Protocol, out bool forward);
        Forward4[k] = forward;
        Index4[k] = i;
    }
}
