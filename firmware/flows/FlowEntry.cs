using System.Runtime.InteropServices;

namespace SnicRuntime.Firmware.Flows;

/// <summary>TCP connection state as the flow table tracks it (for aging, not a full TCP state machine).</summary>
public enum TcpState : byte
{
    /// <summary>Not TCP.</summary>
    None,
    /// <summary>SYN seen, handshake not complete.</summary>
    Handshake,
    Established,
    /// <summary>FIN or RST seen: short timeout.</summary>
    Closing,
}

/// <summary>What kind of timeout applies to a flow.</summary>
public enum FlowClass : byte
{
    TcpHandshake,
    TcpEstablished,
    TcpClosing,
    Udp,
    Icmp,
    Other,
    Count,
}

/// <summary>
/// The value of one flow, 32 bytes, stored in an array parallel to the key slots:
/// <code>
///  0       4        8          12       16     20   22  23  24         28         32
///  | action | version | lastSeen | packets | bytes |gen|tcp|flg| timerPrev | timerNext |
/// </code>
/// Counters are 32-bit and wrap; readers take differences. Timer links chain the flow into its
/// aging-wheel slot (doubly linked, so delete is O(1)).
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 32)]
public struct FlowEntry
{
    /// <summary>Index of the compiled action list (or egress decision) for this flow.</summary>
    public uint Action;
    /// <summary>HA version: bumped on every change, orders inline against bulk sync.</summary>
    public uint Version;
    public uint LastSeenMs;
    public uint Packets;
    public uint Bytes;
    /// <summary>Configuration generation that created the flow (wraps at 65536).</summary>
    public ushort Generation;
    public TcpState Tcp;
    public FlowFlags Flags;
    internal uint TimerPrev;
    internal uint TimerNext;

    public readonly bool IsValid => (Flags & FlowFlags.Valid) != 0;

    /// <summary>The entry a flow starts with, from its first packet.</summary>
    public static FlowEntry ForFirstPacket(uint action, uint nowMs, int bytes, ushort generation, in Parsing.ParsedPacket p, bool forward) => new()
    {
        Action = action,
        LastSeenMs = nowMs,
        Packets = 1,
        Bytes = (uint)bytes,
        Generation = generation,
        Tcp = p.IsTcp ? ((p.TcpFlags & (byte)(Hal.Net.TcpFlags.Fin | Hal.Net.TcpFlags.Rst)) != 0 ? TcpState.Closing : TcpState.Handshake) : TcpState.None,
        Flags = (forward ? FlowFlags.OriginatorIsLow : 0)
            | (p.L4Protocol == Hal.Net.IpProtocols.Udp ? FlowFlags.Udp : 0)
            | (p.L4Protocol is Hal.Net.IpProtocols.Icmp or Hal.Net.IpProtocols.Icmpv6 ? FlowFlags.Icmp : 0),
    };
}

[Flags]
public enum FlowFlags : byte
{
    None = 0,
    Valid = 1,
    /// <summary>The packet that created the flow came from the key's lower endpoint.</summary>
    OriginatorIsLow = 2,
    Icmp = 4,
    Udp = 8,
    /// <summary>HA: created on the active and not yet acknowledged by the standby; its packets wait in the hold queue.</summary>
    SyncPending = 16,
}
