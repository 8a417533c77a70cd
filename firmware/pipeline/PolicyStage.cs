using System.Runtime.CompilerServices;
using SnicRuntime.Firmware.Parsing;
using SnicRuntime.Firmware.Workers;
using SnicRuntime.Hal;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>The pipeline as a worker stage (a struct, so the worker's call is direct).</summary>
public readonly struct PolicyStage(PolicyPipeline pipeline) : IBurstStage
{
    public PolicyPipeline Pipeline => pipeline;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Process(int ingressPort, ReadOnlySpan<PacketRef> packets, Span<ParsedPacket> meta, Span<ushort> egress, Span<DropReason> drops) =>
        pipeline.Process(ingressPort, packets, meta, egress, drops);

    public void Tick(uint nowMs) => pipeline.Tick(nowMs);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Release(Span<PacketRef> packets, Span<ushort> egress, Span<DropReason> drops) => pipeline.HasHa ? pipeline.ServiceHa(packets, egress, drops) : 0;
}
