using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Hal;

namespace SnicRuntime.Firmware.Workers;

/// <summary>Egress decisions a stage writes per packet.</summary>
public static class Egress
{
    /// <summary>Not decided yet (parsed fine, waiting for the stage).</summary>
    public const ushort Pending = 0xFFFE;

    /// <summary>Drop; the reason is in the burst's drop array.</summary>
    public const ushort Drop = 0xFFFF;

    /// <summary>The stage keeps the packet (HA: waiting for the standby's acknowledgement); it hands it back through <see cref="IBurstStage.Release"/>.</summary>
    public const ushort Held = 0xFFFD;
}

/// <summary>
/// The part of the pipeline between parsing and transmit, run once per burst. Implemented by
/// structs; the worker is generic over it so NativeAOT inlines the call (no virtual dispatch per
/// burst or per packet). Later issues plug the flow table and the policy pipeline in here.
/// </summary>
public interface IBurstStage
{
    /// <summary>
    /// For every packet whose egress is <see cref="Egress.Pending"/>, sets egress to a port id or
    /// to <see cref="Egress.Drop"/> with a reason in <paramref name="drops"/>. Packets may be
    /// rewritten in place. Must not throw.
    /// </summary>
    void Process(int ingressPort, ReadOnlySpan<PacketRef> packets, Span<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops);

    /// <summary>Housekeeping between polls (aging, ...), with the worker's clock in milliseconds.</summary>
    void Tick(uint nowMs);

    /// <summary>
    /// Called once per poll: packets the stage held (<see cref="Egress.Held"/>) that may leave now,
    /// with their egress ports, or <see cref="Egress.Drop"/> and the reason in
    /// <paramref name="drops"/> for held packets that may not leave at all. Returns how many were
    /// written (at most the spans' length).
    /// </summary>
    int Release(Span<PacketRef> packets, Span<ushort> egress, Span<DropReason> drops);
}

/// <summary>
/// The foundation's stage: a cross-connect, every packet leaves by its ingress port's peer
/// (like testpmd's io mode or l2fwd). Used until the flow table and policy pipeline arrive.
/// </summary>
public readonly struct PortForwardStage : IBurstStage
{
    public int Release(Span<PacketRef> packets, Span<ushort> egress, Span<DropReason> drops) => 0;

    private readonly ushort[] _peerOf;

    public PortForwardStage(ushort[] peerOf) => _peerOf = peerOf;

    /// <summary>Pairs ports 0↔1, 2↔3, ...; an odd last port loops back to itself.</summary>
    public static PortForwardStage Pairs(int ports)
    {
        var peer = new ushort[ports];
        for (int i = 0; i < ports; i++)
        {
            peer[i] = (ushort)((i ^ 1) < ports ? i ^ 1 : i);
        }

        return new PortForwardStage(peer);
    }

    public void Process(int ingressPort, ReadOnlySpan<PacketRef> packets, Span<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops)
    {
        ushort to = _peerOf[ingressPort];
        for (int i = 0; i < egress.Length; i++)
        {
            if (egress[i] == Egress.Pending)
            {
                egress[i] = to;
            }
        }
    }

    public void Tick(uint nowMs)
    {
    }

    /// <summary>The port a packet from <paramref name="ingressPort"/> leaves by.</summary>
    public ushort PeerOf(int ingressPort) => _peerOf[ingressPort];
}
