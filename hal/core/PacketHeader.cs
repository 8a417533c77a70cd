using System.Runtime.InteropServices;

namespace SnicRuntime.Hal;

/// <summary>
/// Per-buffer metadata, stored at the start of every pool slot (the role of DPDK's rte_mbuf header).
/// Exactly one cache line, so touching a packet's metadata costs one line and its data starts
/// on the next.
/// </summary>
/// <remarks>
/// Slot layout (stride = 64 + headroom + data room, a multiple of 64):
/// <code>
///   +0        PacketHeader (64 B)
///   +64       headroom  (room to prepend outer headers: VXLAN over IPv6 needs 70 B)
///   +64+H     data room (the frame as received)
/// </code>
/// DataOffset is counted from +64, so DataOffset == Headroom for a freshly received frame.
/// </remarks>
[StructLayout(LayoutKind.Sequential, Size = 64)]
public struct PacketHeader
{
    public ushort DataOffset;
    public ushort DataLength;
    public ushort BufferLength;
    public ushort Port;
    public ushort Queue;
    public ushort Flags;
    public uint RssHash;
    public uint PoolIndex;
    public uint Reserved;
    public long TimestampTicks;
    // 32 bytes used; the rest of the line is kept for per-packet state later stages may need.
}
